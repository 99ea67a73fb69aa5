/**
 * The memif connection state machine as tables: which message each role accepts in each
 * state, who handles it and where it leads (TRANSITIONS), and what the peer is told when
 * it sends anything else (REFUSED). `dispatch` is the only code that moves a channel
 * between states (besides `drop`, which closes it).
 *
 *   opened by                     first state
 *   server accept (HELLO sent)    init
 *   client connect                hello
 *
 * DISCONNECT is accepted in every state, from either side, and closes the channel.
 * A message's passed descriptor (SCM_RIGHTS) goes to the handler only where the table says
 * it carries one (ADD_REGION, ADD_RING); anywhere else it is closed before the handler runs,
 * and a second descriptor in one message is always closed.
 */
import { closeFd } from '../../native/libc.js';
import type { Channel, ChanState, ControlOps } from './memif-channel.js';
import { onAck, onConnected, onHello } from './memif-client.js';
import { MSG_NAMES, MsgType, msgType, parseDisconnect } from './memif-proto.js';
import { onAddRegion, onAddRing, onConnect, onInit } from './memif-server.js';
import { ROLE_CLIENT, ROLE_SERVER } from './memif-table.js';

/** A handler: returns the next state (one of its transition's `to`), or 'closed' when it ended the channel. */
type Handler = (ctl: ControlOps, c: Channel, m: Uint8Array, fd: number) => ChanState;

interface Transition {
  role: number;
  from: ChanState;
  msg: MsgType;
  /** States the handler may lead to when it accepts ('closed' is always allowed). */
  to: readonly ChanState[];
  /** The message carries a descriptor the handler takes. */
  fd: boolean;
  on: Handler;
}

const S = ROLE_SERVER;
const C = ROLE_CLIENT;

/** Allowed transitions. */
export const TRANSITIONS: readonly Transition[] = [
  { role: S, from: 'init', msg: MsgType.INIT, to: ['setup'], fd: false, on: onInit },
  { role: S, from: 'setup', msg: MsgType.ADD_REGION, to: ['setup'], fd: true, on: onAddRegion },
  { role: S, from: 'setup', msg: MsgType.ADD_RING, to: ['setup'], fd: true, on: onAddRing },
  { role: S, from: 'setup', msg: MsgType.CONNECT, to: ['connected'], fd: false, on: onConnect },
  { role: C, from: 'hello', msg: MsgType.HELLO, to: ['setup'], fd: false, on: onHello },
  { role: C, from: 'setup', msg: MsgType.ACK, to: ['setup', 'connecting'], fd: false, on: onAck },
  { role: C, from: 'connecting', msg: MsgType.CONNECTED, to: ['connected'], fd: false, on: onConnected },
];

/**
 * Refused: any other message (DISCONNECT aside) in a state, with what the peer is told
 * after "unexpected message <name>". Every state a role's channel can be in is listed.
 */
export const REFUSED: Readonly<Record<number, Partial<Record<ChanState, string>>>> = {
  [S]: { init: '(expected init)', setup: 'during setup', connected: 'on a connected interface' },
  [C]: { hello: '(expected hello)', setup: '(expected ack)', connecting: '(expected connected)', connected: 'on a connected interface' },
};

/** (role, state, message) → transition, built once from the table. */
const INDEX = new Map<string, Transition>(TRANSITIONS.map((t) => [`${t.role}:${t.from}:${t.msg}`, t]));

/**
 * Handle one message of `c` (a whole MEMIF_MSG_SIZE message; `fds` the descriptors it
 * carried, all of which this call takes).
 */
export function dispatch(ctl: ControlOps, c: Channel, m: Uint8Array, fds: readonly number[]): void {
  const type = msgType(m);
  const passed = fds.length > 0 ? fds[0]! : -1;
  for (let i = 1; i < fds.length; i++) closeFd(fds[i]!);
  const t = INDEX.get(`${ctl.cfg.role}:${c.state}:${type}`);
  if (!t || !t.fd) closeFd(passed);
  if (type === MsgType.DISCONNECT) {
    ctl.drop(c, `peer disconnected: ${parseDisconnect(m).reason || '(no reason given)'}`, false, false);
    return;
  }
  if (!t) {
    ctl.refuse(c, `unexpected message ${MSG_NAMES[type] ?? type} ${REFUSED[ctl.cfg.role]![c.state] ?? `in state ${c.state}`}`);
    return;
  }
  const next = t.on(ctl, c, m, passed);
  if (next === 'closed') return;
  if (!t.to.includes(next)) throw new Error(`memif: the ${MSG_NAMES[type]} handler led from ${t.from} to ${next}, which its transition does not allow`);
  c.state = next;
}
