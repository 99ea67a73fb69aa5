/**
 * mpdk's own telemetry commands (no DPDK equivalent), under /mpdk/: what a DPDK
 * application has no notion of — the instance, its processes, every lcore of the instance
 * (DPDK's /eal/lcore/* show only the answering process's), the rings, and the ownership
 * audit (where every buffer is). Read-only, through the layers' views.
 *
 *   /mpdk/info              {file_prefix, version, primary_pid, primary_alive, region_bytes,
 *                            heap_free_bytes, live_processes}
 *   /mpdk/process/list      [pids of registered processes]
 *   /mpdk/process/info,PID  {pid, type, name, alive, liveness, lcores}
 *   /mpdk/lcore/usage       {lcore_ids, pids, total_cycles, busy_cycles, usage_ratio}: every
 *                            lcore of the instance whose poll loop ran (nanoseconds)
 *   /mpdk/ring/list         [ring names]
 *   /mpdk/ring/info,NAME    {name, size, capacity, flags, count, free_count, high_water, ...}
 *   /mpdk/audit             {ok, pools: {NAME: {size, in_pool, ..., leaked, duplicates}},
 *                            errors}: one scan (auditInstance); on a live instance the
 *                            counts are a snapshot of moving buffers
 */
import type { Eal } from '../eal/eal.js';
import { MPDK_VERSION } from '../eal/eal.js';
import { registerTelemetryCommand, leadingInt } from '../eal/telemetry.js';
import { usageReply } from '../eal/telemetry-eal.js';
import type { TelValue } from '../eal/telemetry-json.js';
import { auditInstance } from '../ownership/audit.js';
import { RingView } from '../ring/view.js';

/** camelCase keys to DPDK's snake_case, values kept (numbers and strings only). */
function snake(o: Record<string, unknown>): { [k: string]: TelValue } {
  const out: { [k: string]: TelValue } = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())] = v;
  }
  return out;
}

registerTelemetryCommand('/mpdk/info', (_c, _p, eal: Eal) => ({
  file_prefix: eal.filePrefix, version: MPDK_VERSION, primary_pid: eal.primaryPid(), primary_alive: eal.primaryAlive() ? 1 : 0,
  region_bytes: eal.region.size, heap_free_bytes: eal.heapStats().free, live_processes: eal.processes.livePids(-1).length,
}), 'Returns the instance: prefix, version, primary, region. Takes no parameters');

registerTelemetryCommand('/mpdk/process/list', (_c, _p, eal) => eal.processes.list().map((p) => p.pid), 'Returns the pids of the processes of the instance. Takes no parameters');

registerTelemetryCommand('/mpdk/process/info', (_c, params, eal) => {
  const pid = leadingInt(params, 10);
  const p = eal.processes.list().find((x) => x.pid === pid);
  if (!p) return undefined;
  return { pid: p.pid, type: p.type, name: p.name, alive: p.alive ? 1 : 0, liveness: p.liveness, lcores: eal.lcoreTable.heldBy(p.pid) };
}, 'Returns a process of the instance. Parameters: int pid');

registerTelemetryCommand('/mpdk/lcore/usage', (_c, _p, eal) => usageReply(eal.lcoreTable.list(), true), 'Returns the cycles usage of every lcore of the instance. Takes no parameters');

registerTelemetryCommand('/mpdk/ring/list', (_c, _p, eal) => RingView.list(eal).map((r) => r.name), 'Returns the rings of the instance. Takes no parameters');

registerTelemetryCommand('/mpdk/ring/info', (_c, params, eal) => {
  const e = RingView.list(eal).find((r) => r.name === params);
  if (!e) return undefined;
  if (!e.view) return { name: e.name, error: e.error ?? 'unreadable' };
  const d = e.view.describe();
  return snake({ ...d, freeCount: d.free, free: undefined, kind: undefined });
}, 'Returns a ring: size, count, free, high-water mark. Parameters: string name');

registerTelemetryCommand('/mpdk/audit', (_c, _p, eal) => {
  const a = auditInstance(eal);
  const pools: { [k: string]: TelValue } = {};
  for (const p of a.pools) {
    const { name, ...rest } = p;
    pools[name] = snake(rest);
  }
  return { ok: a.ok ? 1 : 0, pools, errors: a.errors };
}, 'Returns where every buffer of every pool is (mpdk audit). Takes no parameters');
