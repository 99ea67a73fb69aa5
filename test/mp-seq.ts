/** Per-sender order of the one-way 'seq' messages ({n}: 0, 1, 2, ...) the mp tests send. */
import type { MpMessage } from '../src/index.js';

/** What one sender's 'seq' messages looked like: how many, the last n, all in order. */
export interface SeqSeen {
  count: number;
  last: number;
  inOrder: boolean;
}

/** An 'seq' handler that records each sender's messages into `seen` (by pid). */
export function seqRecorder(seen: Map<number, SeqSeen>): (m: MpMessage) => void {
  return (m) => {
    const n = (m.data as { n: number }).n;
    const s = seen.get(m.from.pid) ?? { count: 0, last: -1, inOrder: true };
    if (n !== s.last + 1) s.inOrder = false;
    s.last = n;
    s.count++;
    seen.set(m.from.pid, s);
  };
}
