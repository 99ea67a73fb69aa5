/**
 * A scripted mpdk process for the EAL tests: `node eal-child.js <EAL args> -- <actions>`.
 * Actions run in order; each prints one JSON line on stdout:
 *   reserve:NAME:LEN[:U32]   reserve a memzone (and write U32 at its start)
 *   read:NAME                print the u32 at the start of memzone NAME
 *   many:PREFIX:N            reserve N memzones PREFIX0..N-1 (1 KiB each), printing how many succeeded
 *   malloc:TAG:SIZE          allocate from the heap, print the offset
 *   free:OFFSET              free a heap block
 *   launch                   run test/lcore-fn.js on every worker lcore and print their results
 *   survive                  keep running when the primary dies (print {"primaryExit": pid})
 *   gone                     print {"primaryGone": code, "message": …} when eal.primaryGone aborts
 *   exit-with-primary        (anywhere in the actions) open the EAL with exitWithPrimary: DPDK's exit
 *   hold                     print {"ready":…} and stay until stdin closes or a signal
 *   exit                     close and exit 0
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import { Eal, remoteLaunch, MpdkError, stderrLogger } from '../src/index.js';
import { allowedCpus } from '../src/native/libc.js';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const ealArgs = dd < 0 ? argv : argv.slice(0, dd);
const actions = dd < 0 ? [] : argv.slice(dd + 1);

function out(o: unknown): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

let eal: Eal;
try {
  eal = Eal.init(ealArgs, { name: 'eal-child', logger: stderrLogger, handleSignals: true, exitWithPrimary: actions.includes('exit-with-primary') }).eal;
} catch (e) {
  process.stderr.write(`eal-child: ${(e as Error).message}\n`);
  process.exit(e instanceof MpdkError ? 1 : 2);
}
out({ type: eal.procType, slot: eal.slot, pid: process.pid, adopted: eal.adopted, cpus: allowedCpus() });
for (const a of actions) {
  const [op, x, y, z] = a.split(':');
  try {
    if (op === 'reserve') {
      const mz = eal.memzones.reserve(x!, Number(y));
      if (z !== undefined) eal.region.u32[mz.offset >>> 2] = Number(z);
      out({ reserved: x, offset: mz.offset });
    } else if (op === 'read') {
      const mz = eal.memzones.lookup(x!);
      out({ read: x, value: eal.region.u32[mz.offset >>> 2] });
    } else if (op === 'many') {
      let ok = 0;
      for (let i = 0; i < Number(y); i++) {
        try {
          eal.memzones.reserve(`${x}${i}`, 1024);
          ok++;
        } catch {
          /* counted */
        }
      }
      out({ many: x, ok });
    } else if (op === 'malloc') {
      out({ malloc: x, offset: eal.malloc(x!, Number(y)) });
    } else if (op === 'free') {
      eal.free(Number(x));
      out({ freed: Number(x) });
    } else if (op === 'launch') {
      const jobs = eal.workerLcores.map((l) => remoteLaunch(eal, l, new URL('./lcore-fn.js', import.meta.url), { add: 1 }));
      out({ launched: await Promise.all(jobs.map((j) => j.done)) });
    } else if (op === 'survive') {
      eal.onPrimaryExit((pid) => out({ primaryExit: pid }));
    } else if (op === 'gone') {
      const signal = eal.primaryGone;
      signal.addEventListener('abort', () => out({ primaryGone: (signal.reason as MpdkError).code, message: (signal.reason as Error).message }));
    } else if (op === 'hold') {
      out({ ready: true });
      process.stdin.resume();
      await new Promise<void>((r) => process.stdin.on('end', r));
    } else if (op === 'exit') {
      eal.close();
      process.exit(0);
    }
  } catch (e) {
    out({ op, error: (e as MpdkError).code ?? 'ERR', message: (e as Error).message });
  }
}
eal.close();
