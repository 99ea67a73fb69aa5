/**
 * Both sides of test/supervise.test.ts. `supervisor`: makes a Supervisor, pins itself to
 * its first CPU (as the EAL pins a main thread), forks itself as `child`, prints the child's
 * pid and waits. `child`: joins its supervisor, runs on the supervisor's CPUs, prints
 * {supervisorPid, orphaned, cpus} and waits (until a signal ends it); `child once` exits then.
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import { Supervisor, joinSupervisor } from '../src/index.js';
import { allowedCpus, setAffinity } from '../src/native/libc.js';

const role = process.argv[2];
if (role === 'supervisor') {
  const sup = new Supervisor();
  setAffinity([sup.cpus[0]!]);
  const c = sup.fork(new URL(import.meta.url), ['child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  process.stdout.write(JSON.stringify({ child: c.pid, cpus: sup.cpus }) + '\n');
  setInterval(() => undefined, 1000);
} else {
  const me = joinSupervisor();
  me.runOnSupervisorCpus();
  process.stdout.write(JSON.stringify({ supervisorPid: me.supervisorPid, orphaned: me.orphaned, cpus: allowedCpus() }) + '\n');
  if (process.argv[3] === 'once') process.exit(0);
  process.on('SIGTERM', () => {
    process.stdout.write('{"sigterm":true}\n');
    process.exit(0);
  });
  setInterval(() => undefined, 1000);
}
