/**
 * Child for security.test.ts: `emfile PID START DEADPID` fills this process's descriptor
 * table (EMFILE), then says what it can tell about live process (PID, START) and about
 * DEADPID, as one JSON line: "could not tell" must never read as "dead".
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import fs from 'node:fs';
import { Liveness, processLiveness } from '../src/native/libc.js';

const [mode, pid, start, deadPid] = process.argv.slice(2);
if (mode === 'emfile') {
  const held: number[] = [];
  let full = false;
  for (let i = 0; i < 1_000_000 && !full; i++) {
    try {
      held.push(fs.openSync('/dev/null', 'r'));
    } catch (e) {
      full = (e as NodeJS.ErrnoException).code === 'EMFILE';
      if (!full) throw e;
    }
  }
  const name = (l: Liveness): string => (l === Liveness.ALIVE ? 'alive' : l === Liveness.DEAD ? 'dead' : 'unknown');
  const out = { full, live: name(processLiveness(Number(pid), Number(start))), dead: name(processLiveness(Number(deadPid), 12345)) };
  for (const fd of held) fs.closeSync(fd);
  process.stdout.write(JSON.stringify(out) + '\n');
}
