/**
 * The EAL's telemetry commands, with DPDK's names and reply shapes (lib/eal/common:
 * eal_common_options.c's /eal/params and /eal/app_params, eal_common_lcore.c's
 * /eal/lcore/*). As in DPDK they describe the process that answers: its command line and
 * its own lcores (mpdk's /mpdk/lcores shows every lcore of the instance).
 *
 *   /eal/params          ["<program>", EAL options...]          (DPDK: argv up to "--")
 *   /eal/app_params      [program options...]                   (after "--")
 *   /eal/lcore/list      [lcore ids of this process]
 *   /eal/lcore/info,ID   {lcore_id, socket, role, cpuset, total_cycles, busy_cycles,
 *                         usage_ratio}; null for a bad id or an lcore not this process's
 *   /eal/lcore/usage     {lcore_ids, total_cycles, busy_cycles, usage_ratio}: the lcores of
 *                         this process whose poll loop has run (lcore-usage.ts)
 *
 * "cycles" are nanoseconds here (there is no TSC from JavaScript): busy / total is the
 * fraction of time the lcore's poll loop spent in rounds that moved something.
 */
import { allowedCpus, onlineCpus } from '../native/libc.js';
import type { Eal } from './eal.js';
import type { LcoreUsage } from './lcore-table.js';
import { cpusOfLcore } from './lcore-map.js';
import { MAX_LCORE } from './options.js';
import { registerTelemetryCommand } from './telemetry.js';

function lcoresOf(eal: Eal): number[] {
  return eal.lcoreTable.heldBy(process.pid);
}

function ratio(u: LcoreUsage): string {
  const total = u.busyNs + u.idleNs;
  return `${(total > 0 ? (u.busyNs * 100) / total : 0).toFixed(2)}%`;
}

/** The CPUs lcore `l` runs on: its --lcores map's (its own CPU by default), or (beyond the machine's CPUs, unpinned) the allowed ones. */
function cpusetOf(eal: Eal, l: number): number[] {
  const c = cpusOfLcore(eal.options.cpusets, l, onlineCpus());
  return c.beyond ? allowedCpus() : c.cpus;
}

registerTelemetryCommand('/eal/params', (_c, _p, eal) => [eal.commandLine.name, ...eal.commandLine.eal], 'Returns EAL commandline parameters used. Takes no parameters');
registerTelemetryCommand('/eal/app_params', (_c, _p, eal) => [...eal.commandLine.app], 'Returns app commandline parameters used. Takes no parameters');
registerTelemetryCommand('/eal/lcore/list', (_c, _p, eal) => lcoresOf(eal), 'List of lcore ids. Takes no parameters');

registerTelemetryCommand('/eal/lcore/info', (_c, params, eal) => {
  if (params === undefined || !/^[0-9]+$/.test(params)) return undefined;
  const l = Number(params);
  if (l >= MAX_LCORE || !lcoresOf(eal).includes(l)) return undefined;
  const u = eal.lcoreTable.usage(l);
  return {
    lcore_id: l, socket: 0, role: 'RTE', cpuset: cpusetOf(eal, l),
    total_cycles: Math.round(u.busyNs + u.idleNs), busy_cycles: Math.round(u.busyNs), usage_ratio: ratio(u),
  };
}, 'Returns lcore info. Parameters: int lcore_id');

/**
 * DPDK's /eal/lcore/usage reply for `lcores` (those whose poll loop ran; a lcore that never
 * polled has no usage to report, as DPDK's callback says), with their owners' pids when asked.
 */
export function usageReply(lcores: readonly { lcore: number; pid: number; usage: LcoreUsage }[], pids: boolean): { [k: string]: number[] | string[] } {
  const ran = lcores.filter((l) => l.usage.busyNs + l.usage.idleNs > 0);
  return {
    lcore_ids: ran.map((l) => l.lcore), ...(pids ? { pids: ran.map((l) => l.pid) } : {}),
    total_cycles: ran.map((l) => Math.round(l.usage.busyNs + l.usage.idleNs)), busy_cycles: ran.map((l) => Math.round(l.usage.busyNs)), usage_ratio: ran.map((l) => ratio(l.usage)),
  };
}

registerTelemetryCommand('/eal/lcore/usage', (_c, _p, eal) => usageReply(lcoresOf(eal).map((l) => ({ lcore: l, pid: process.pid, usage: eal.lcoreTable.usage(l) })), false),
  'Returns lcore cycles usage. Takes no parameters');
