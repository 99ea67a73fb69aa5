/**
 * Child for security.test.ts: `emfile PID START DEADPID` fills this process's descriptor
 * table (EMFILE), then says what it can tell about live process (PID, START) and about
 * DEADPID, as one JSON line: "could not tell" must never read as "dead".
 * `bind-loop PATH` says "spinning", tries to bind a socket at PATH in a tight loop until it
 * can (the name free for an instant), then says "bound" and listens there until killed.
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import fs from 'node:fs';
import { closeFd, Liveness, processLiveness, seqpacketSocket, unixListen } from '../src/native/libc.js';

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
if (mode === 'bind-loop') {
  const at = pid!;
  process.stdout.write('spinning\n');
  for (;;) {
    const fd = seqpacketSocket();
    try {
      unixListen(fd, at, false, 4);
      process.stdout.write('bound\n');
      break;
    } catch {
      closeFd(fd);
    }
  }
  setInterval(() => undefined, 60_000);
}
