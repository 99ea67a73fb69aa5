/**
 * The replies of the telemetry socket: `{"<command>":<data>}` in at most MAX_OUTPUT_LEN
 * bytes, as DPDK's telemetry writes them (lib/telemetry: output_json, rte_tel_json_*).
 * A reply that would be longer keeps the entries of its dictionaries and arrays that fit,
 * in order, and stays valid JSON (DPDK leaves out what does not fit the same way).
 */

/** What a command answers: DPDK's rte_tel_data (a string, a dictionary, an array; null = error). */
export type TelValue = string | number | boolean | null | readonly TelValue[] | { readonly [key: string]: TelValue };

/** DPDK's MAX_OUTPUT_LEN: no reply is longer (the greeting tells clients). */
export const MAX_OUTPUT_LEN = 16384;
/** DPDK's MAX_CMD_LEN: a longer command is unknown; a reply names at most this much of it. */
export const MAX_CMD_LEN = 56;

function bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** `v` as JSON in at most `budget` bytes, or undefined when even its shortest form does not fit. */
function encode(v: TelValue, budget: number): string | undefined {
  if (v === null || typeof v !== 'object') {
    const s = typeof v === 'number' && !Number.isFinite(v) ? 'null' : JSON.stringify(v);
    return bytes(s) <= budget ? s : undefined;
  }
  const isArray = Array.isArray(v);
  if (budget < 2) return undefined;
  let out = isArray ? '[' : '{';
  let used = 2; // both brackets
  const entries: [string | undefined, TelValue][] = isArray
    ? (v as readonly TelValue[]).map((x) => [undefined, x])
    : Object.entries(v as { readonly [key: string]: TelValue });
  for (const [key, x] of entries) {
    const head = (out.length > 1 ? ',' : '') + (key === undefined ? '' : JSON.stringify(key) + ':');
    const room = budget - used - bytes(head);
    const s = room > 0 ? encode(x, room) : undefined;
    if (s === undefined) break;
    out += head + s;
    used += bytes(head) + bytes(s);
  }
  return out + (isArray ? ']' : '}');
}

/** The reply to `cmd`: its data, or null (an unknown command, bad parameters, a failed handler). */
export function encodeReply(cmd: string, data: TelValue | undefined, max = MAX_OUTPUT_LEN): string {
  const prefix = `{${JSON.stringify(cmd.slice(0, MAX_CMD_LEN))}:`;
  const body = data === undefined ? 'null' : (encode(data, max - bytes(prefix) - 1) ?? 'null');
  return `${prefix}${body}}`;
}
