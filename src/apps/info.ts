/** `mpdk info --file-prefix X [--json]`: the instance, read-only (changes nothing). */
import { describeAll, Eal, FILE_PREFIX_OPTION, HUGE_DIR_OPTION, instancePrefix, mib, parseArgs, type ProgramSpec } from '../index.js';

export const spec: ProgramSpec = {
  name: 'info',
  synopsis: '[--file-prefix NAME] [--json] [--huge-dir DIR]',
  eal: false,
  about: 'The instance, read-only: region, processes, lcores, memzones, heap and every object.',
  options: [
    FILE_PREFIX_OPTION, { names: ['--json'], help: 'the same as one JSON document' },
    HUGE_DIR_OPTION,
  ],
};

export function main(argv: string[]): number {
  const a = parseArgs(spec, argv);
  const filePrefix = instancePrefix(a);
  const json = a.has('--json');
  const eal = Eal.observe(filePrefix, { hugeDir: a.value('--huge-dir') });
  const r = eal.region;
  const heap = eal.heapStats();
  const lcores = eal.lcoreTable.list();
  const processes = eal.processes.list().map((p) => ({ ...p, lcores: lcores.filter((l) => l.pid === p.pid).map((l) => l.lcore) }));
  const report = {
    filePrefix,
    region: { path: r.path, size: r.size, used: heap.total - heap.free, generation: r.generation, created: new Date(r.createdMs).toISOString() },
    primary: { pid: eal.primaryPid(), alive: eal.primaryAlive() },
    processes,
    lcores,
    memzones: eal.memzones.list(),
    heap,
    heapBlocks: eal.heapBlocks().filter((b) => !b.tag.startsWith('mz:')),
    objects: describeAll(eal),
  };
  if (json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return 0;
  }
  const w = (s: string): boolean => process.stdout.write(s + '\n');
  w(`instance '${filePrefix}': ${mib(r.size)} MiB region at ${r.path}, ${((report.region.used / r.size) * 100).toFixed(1)}% used, generation ${r.generation}`);
  w(`primary: pid ${report.primary.pid} (${report.primary.alive ? 'alive' : 'not running'})`);
  w(`processes:`);
  for (const p of processes) w(`  pid ${String(p.pid).padEnd(8)} ${p.type.padEnd(9)} ${p.name.padEnd(24)} lcores ${p.lcores.join(',') || '-'}  ${p.liveness === 'alive' ? 'alive' : p.liveness === 'dead' ? 'DEAD' : 'UNKNOWN (could not tell; not treated as dead)'}`);
  w(`memzones (${report.memzones.length}):`);
  for (const m of report.memzones) w(`  ${m.name.padEnd(32)} offset 0x${m.offset.toString(16).padStart(8, '0')}  length ${m.length}  by pid ${m.creator}`);
  w(`heap: total ${heap.total}, free ${heap.free}, largest free ${heap.largestFree}, allocations ${heap.allocations}`);
  for (const b of report.heapBlocks) w(`  block ${b.tag.padEnd(30)} offset 0x${b.offset.toString(16)} size ${b.size} by pid ${b.owner}`);
  for (const o of report.objects) {
    const { kind, name, ...rest } = o;
    w(`${kind} ${name}: ${Object.entries(rest).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ')}`);
  }
  return 0;
}
