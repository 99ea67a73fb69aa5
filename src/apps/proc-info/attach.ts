/**
 * The two writes the inspection tools make (`proc-info --stats-reset`, `dumpcap`) need a
 * read-write mapping: they attach as an ordinary secondary process, on the highest lcore
 * nobody holds (ids at or above the CPU count run unpinned, so the tool takes no CPU from
 * the application), and leave with eal.close(). Everything else they do goes through an
 * observer (Eal.observe, read-only).
 */
import { stderrLogger, Eal, MAX_LCORE, MpdkError } from '../../index.js';

/** Attach to instance `prefix` (its region in `hugeDir` when it was started with --huge-dir) as a secondary named `name`. */
export function attachSecondary(prefix: string, name: string, hugeDir?: string): Eal {
  const obs = Eal.observe(prefix, { hugeDir }); // ENOENT, one line, when there is no such instance
  if (!obs.primaryAlive()) {
    throw new MpdkError('ENOENT', `instance '${prefix}' has no running primary (pid ${obs.primaryPid()} is gone); nothing to attach to`);
  }
  const used = new Set(obs.lcoreTable.list().filter((l) => l.pid !== 0 && l.alive).map((l) => l.lcore));
  let lcore = MAX_LCORE - 1;
  while (lcore >= 0 && used.has(lcore)) lcore--;
  if (lcore < 0) throw new MpdkError('EBUSY', `instance '${prefix}' has no free lcore left for ${name} to attach with`);
  const huge = hugeDir === undefined ? [] : ['--huge-dir', hugeDir];
  return Eal.init(['-l', String(lcore), '--file-prefix', prefix, ...huge, '--proc-type=secondary', '--log-level', 'error'], { name, logger: stderrLogger, handleSignals: true, exitWithPrimary: true }).eal;
}
