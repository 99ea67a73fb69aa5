/**
 * The bytes of one message of the instance's message channel (mp.ts): one SOCK_SEQPACKET
 * datagram each, so a message arrives whole or not at all, in the order its sender sent it.
 *
 *   offset  size  field
 *   0       1     VERSION   MP_WIRE_VERSION; a message of another version is refused
 *   1       1     TYPE      MSG (one-way), REQ (wants a reply), REP (a reply), ERR (a failed reply)
 *   2       1     KIND      how DATA is encoded: none, bytes, utf-8 text, JSON
 *   3       1     NAME_LEN  1..MP_NAME_MAX
 *   4       4     ID        u32, the request's id (REQ, and the REP / ERR answering it); 0 for MSG
 *   8       4     DATA_LEN  u32
 *   12      4     0
 *   16      NAME_LEN      the action's name (ASCII)
 *   16+NAME_LEN  DATA_LEN  the data; an ERR's is JSON {"code", "message"}
 *
 * Descriptors travel beside the bytes (SCM_RIGHTS, native/unix.ts). Little-endian, as every
 * process of an instance runs on one host.
 */
import { MpdkError, type ErrorCode } from './errors.js';

export const MP_WIRE_VERSION = 1;
/** The fixed header's bytes. */
export const MP_HEADER = 16;
/** An action's name: 1 to 63 characters (DPDK's RTE_MP_MAX_NAME_LEN is 64 with its NUL). */
export const MP_NAME_MAX = 63;
/** Bytes of data one message carries at most (DPDK's rte_mp carries 256). */
export const MP_DATA_MAX = 60 * 1024;
/** The largest datagram: header, name and data. */
export const MP_FRAME_MAX = MP_HEADER + MP_NAME_MAX + MP_DATA_MAX;

export const enum MpType {
  MSG = 1,
  REQ = 2,
  REP = 3,
  ERR = 4,
}

const enum Kind {
  NONE = 0,
  BYTES = 1,
  TEXT = 2,
  JSON = 3,
}

const NAME_RE = /^[A-Za-z0-9_.:/-]{1,63}$/;

/** Check an action's name: 1..63 of letters, digits and `_ . : / -`. EINVAL otherwise. */
export function checkActionName(name: string): void {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new MpdkError('EINVAL', `invalid action name ${JSON.stringify(name)}: 1 to ${MP_NAME_MAX} letters, digits, '_', '.', ':', '/' or '-'`);
  }
}

/** One decoded message. */
export interface Frame {
  type: MpType;
  id: number;
  name: string;
  data: unknown;
}

/**
 * The data as bytes and its kind: a Uint8Array (a Buffer) travels as bytes, a string as
 * UTF-8, undefined as nothing, anything else as JSON. EINVAL for what JSON cannot carry.
 */
function encodeData(data: unknown): { kind: Kind; bytes: Uint8Array } {
  if (data === undefined) return { kind: Kind.NONE, bytes: EMPTY };
  if (data instanceof Uint8Array) return { kind: Kind.BYTES, bytes: data };
  if (typeof data === 'string') return { kind: Kind.TEXT, bytes: Buffer.from(data, 'utf8') };
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (e) {
    throw new MpdkError('EINVAL', `the message's data cannot be sent: ${(e as Error).message} (send a Uint8Array, a string, or what JSON.stringify takes)`);
  }
  if (text === undefined) throw new MpdkError('EINVAL', `the message's data (${typeof data}) cannot be sent: send a Uint8Array, a string, or what JSON.stringify takes`);
  return { kind: Kind.JSON, bytes: Buffer.from(text, 'utf8') };
}

const EMPTY = new Uint8Array(0);

/**
 * Write a message into `out` (at least MP_FRAME_MAX bytes); returns its length. EMSGSIZE when
 * the data is longer than MP_DATA_MAX (nothing is sent), EINVAL for data JSON cannot carry.
 */
export function encodeFrame(out: Buffer, type: MpType, id: number, name: string, data: unknown): number {
  const { kind, bytes } = encodeData(data);
  if (bytes.length > MP_DATA_MAX) {
    throw new MpdkError('EMSGSIZE', `the data of '${name}' is ${bytes.length} bytes: a message carries at most ${MP_DATA_MAX} (pass a descriptor, a memfd, for more)`);
  }
  const n = out.write(name, MP_HEADER, 'latin1');
  out[0] = MP_WIRE_VERSION;
  out[1] = type;
  out[2] = kind;
  out[3] = n;
  out.writeUInt32LE(id >>> 0, 4);
  out.writeUInt32LE(bytes.length, 8);
  out.writeUInt32LE(0, 12);
  out.set(bytes, MP_HEADER + n);
  return MP_HEADER + n + bytes.length;
}

/** An ERR message's data: what the requester's MpdkError will say. */
export function errorData(e: unknown): { code: string; message: string } {
  const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'EIO';
  const message = e instanceof Error ? e.message : String(e);
  return { code, message };
}

/** The MpdkError an ERR message's data stands for. */
export function errorOf(data: unknown): MpdkError {
  const d = (data ?? {}) as { code?: unknown; message?: unknown };
  return new MpdkError((typeof d.code === 'string' ? d.code : 'EIO') as ErrorCode, typeof d.message === 'string' ? d.message : 'the peer failed');
}

/**
 * Decode `buf[0..len)`; undefined for a message this code cannot read (another version, a
 * length that does not add up, JSON that does not parse). Bytes are copied out of `buf`.
 */
export function decodeFrame(buf: Buffer, len: number): Frame | undefined {
  if (len < MP_HEADER || buf[0] !== MP_WIRE_VERSION) return undefined;
  const type = buf[1]! as MpType;
  const kind = buf[2]! as Kind;
  const nameLen = buf[3]!;
  const dataLen = buf.readUInt32LE(8);
  if (type < MpType.MSG || type > MpType.ERR || nameLen < 1 || nameLen > MP_NAME_MAX || MP_HEADER + nameLen + dataLen !== len) return undefined;
  const name = buf.toString('latin1', MP_HEADER, MP_HEADER + nameLen);
  const at = MP_HEADER + nameLen;
  let data: unknown;
  switch (kind) {
    case Kind.NONE:
      data = undefined;
      break;
    case Kind.BYTES:
      data = Buffer.from(buf.subarray(at, at + dataLen));
      break;
    case Kind.TEXT:
      data = buf.toString('utf8', at, at + dataLen);
      break;
    case Kind.JSON:
      try {
        data = JSON.parse(buf.toString('utf8', at, at + dataLen));
      } catch {
        return undefined;
      }
      break;
    default:
      return undefined;
  }
  return { type, id: buf.readUInt32LE(4), name, data };
}
