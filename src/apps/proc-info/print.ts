/**
 * proc-info's text report: one printer per section. The DPDK sections (--stats,
 * --xstats, --show-port, --show-ring, --show-mempool, -m) follow dpdk-proc-info's wording
 * where it fits mpdk; the others are mpdk's one-line-per-object lists.
 */
import { ethdevXstats } from '../../index.js';
import { busyShareSinceClaim, type PortSnap, type PoolSnap, type RingSnap, type Snapshot } from './snapshot.js';

/** DPDK's basic xstats of a port (the telemetry's /ethdev/xstats: one list). */
export function xstats(p: PortSnap): Record<string, number> {
  return ethdevXstats(p.stats, p.nbRx, p.nbTx);
}

export interface Selection {
  ports: PortSnap[];
  rings: RingSnap[];
  pools: PoolSnap[];
  /** --show-ring=NAME: these rings in detail. */
  ringDetail: RingSnap[];
  /** --show-ring without a name: every ring's dump. */
  ringDumps: string[] | undefined;
  /** --show-mempool=NAME: these pools in detail (all of them without a name: poolsAll). */
  poolDetail: PoolSnap[];
  poolsAll: boolean;
}

const w = (line: string): boolean => process.stdout.write(line + '\n');
const banner = (t: string): boolean => w(`${'#'.repeat(12)} ${t} ${'#'.repeat(Math.max(4, 66 - t.length))}`);
/** DPDK's STATS_BDR_STR(w, s). */
const border = (n: number, t: string): boolean => w(`${'='.repeat(n)}${t}${'='.repeat(n)}`);
const pct = (f: number): string => (f < 0 ? '-' : `${(f * 100).toFixed(1)}%`);

export function printText(s: Snapshot, report: Record<string, unknown>, sel: Selection): void {
  if (report.processes) printProcs(s);
  if (report.ports) printStats(sel.ports);
  if (report.xstats) {
    for (const p of sel.ports) {
      banner(`NIC extended statistics for port ${p.id} (${p.name})`);
      for (const [k, v] of Object.entries(xstats(p))) w(`  ${k}: ${v}`);
    }
  }
  if (report.portConfig) printPorts(sel.ports);
  if (report.rings) {
    banner(`rings (${sel.rings.length})`);
    for (const r of sel.rings) w(`  ${r.name.padEnd(28)} size ${String(r.size).padStart(6)} capacity ${String(r.capacity).padStart(6)} count ${String(r.count).padStart(6)} free ${String(r.free).padStart(6)} high-water ${r.highWater}`);
  }
  if (sel.ringDumps) {
    border(10, ' show - RING ');
    for (const d of sel.ringDumps) process.stdout.write(d);
  } else if (sel.ringDetail.length) printRings(sel.ringDetail);
  if (report.mempools) {
    banner(`mempools (${sel.pools.length})`);
    for (const m of sel.pools) {
      const caches = Object.entries(m.cacheFill).map(([l, n]) => `${l}:${n}`).join(' ');
      w(`  ${m.name.padEnd(28)} size ${m.size} elt ${m.eltSize} B  available ${m.available}  in use ${m.inUse}  cache ${m.cacheSize}/lcore${caches ? ` [lcore:fill ${caches}]` : ''}`);
    }
  }
  if (sel.poolDetail.length) printPools(sel.poolDetail, sel.poolsAll);
  if (report.memzones) {
    banner(`memzones (${s.memzones.length})`);
    for (const z of s.memzones) w(`  ${z.name.padEnd(32)} offset 0x${z.offset.toString(16).padStart(8, '0')} length ${String(z.length).padStart(10)}  by pid ${z.creator}`);
  }
  if (report.memory) printMemory(s, report.memory as { region: { path: string; bytes: number }; objects: Record<string, number> });
  if (report.events) {
    banner(`events (the latest ${s.events.length})`);
    for (const e of s.events) w(`  ${String(e.seq).padStart(5)} ${new Date(e.time).toISOString().slice(11, 23)} ${e.type.padEnd(14)} pid ${String(e.pid).padEnd(8)} ${e.text}`);
  }
  if (report.captures && s.captures.length) {
    banner(`capture rings (${s.captures.length})`);
    for (const c of s.captures) {
      w(`  port ${c.port} ${c.dir} queue ${c.queue}: ${c.armed ? `armed by pid ${c.owner}${c.ownerAlive ? '' : ' (dead)'}` : 'idle'}, captured ${c.packets}, dropped ${c.drops}, tap time ${(c.tapNs / 1e6).toFixed(1)} ms`);
    }
  }
}

function printProcs(s: Snapshot): void {
  banner(`instance '${s.filePrefix}': ${s.processes.filter((p) => p.alive).length} live process(es), primary pid ${s.primary.pid} ${s.primary.alive ? 'alive' : 'gone'}`);
  for (const p of s.processes) {
    w(`  pid ${String(p.pid).padEnd(8)} ${p.type.padEnd(9)} ${p.name.padEnd(20)} lcores ${(p.lcores.join(',') || '-').padEnd(8)} ${p.alive ? `cpu ${p.cpuSeconds.toFixed(2)} s, ${p.threads} threads, rss ${(p.rssBytes / 1048576).toFixed(1)} MiB` : 'DEAD'}`);
  }
  for (const l of s.lcores) {
    const u = l.usage;
    const polled = (u.busyNs + u.idleNs) / 1e9;
    w(`  lcore ${String(l.lcore).padEnd(4)} pid ${String(l.pid).padEnd(8)} ${polled > 0 ? `busy ${pct(busyShareSinceClaim(l)).padStart(6)} of ${polled.toFixed(2)} s polled (${u.busyPolls} busy / ${u.idlePolls} idle rounds)` : 'no poll loop'}${l.alive ? '' : '  DEAD'}`);
  }
}

function printStats(ports: PortSnap[]): void {
  for (const p of ports) {
    const st = p.stats;
    banner(`NIC statistics for port ${p.id} (${p.name}, ${p.driver}, ${p.state}, link ${p.link.up ? 'up' : 'down'})`);
    w(`  RX-packets: ${st.ipackets}  RX-bytes: ${st.ibytes}  RX-missed: ${st.imissed}  RX-errors: ${st.ierrors}  RX-nombuf: ${st.rxNombuf}`);
    w(`  TX-packets: ${st.opackets}  TX-bytes: ${st.obytes}  TX-errors: ${st.oerrors}`);
    for (const q of st.queues) {
      const rx = q.q < p.nbRx ? `RX ${q.ipackets} pkts ${q.ibytes} B missed ${q.imissed} owner ${q.rxOwner || '-'}` : '';
      const tx = q.q < p.nbTx ? `TX ${q.opackets} pkts ${q.obytes} B errors ${q.oerrors} owner ${q.txOwner || '-'}` : '';
      w(`  queue ${String(q.q).padStart(2)}: ${[rx, tx].filter(Boolean).join(' | ')}`);
    }
  }
}

/** DPDK's show_port: generic config, queues, RSS. */
function printPorts(ports: PortSnap[]): void {
  border(10, ' show - Port PMD ');
  for (const p of ports) {
    border(5, ` Port ${p.id} `);
    w('  - generic config');
    w(`\t  -- driver ${p.driver} device ${p.name}${p.devargs ? `,${p.devargs}` : ''} socket 0`);
    w(`\tLink ${p.link.up ? `up at ${p.link.speedMbps >= 1000 ? `${p.link.speedMbps / 1000} Gbps` : `${p.link.speedMbps} Mbps`} FDX Fixed` : 'down'}`);
    w(`\t  -- mac ${p.mac.toUpperCase()}`);
    w(`\t  -- promiscuous mode ${p.promiscuous ? 'enabled' : 'disabled'}`);
    w(`\t  -- state ${p.state}${p.wire ? `, wire played by pid ${p.wire}` : ''}`);
    if (p.rxq.length) w('  - rx queue');
    for (const q of p.rxq) w(`\t  -- ${q.q} descriptors ${q.nbDesc} mempool ${q.pool ?? '-'} socket 0 owner ${q.ownerAlive ? `pid ${q.owner} lcore ${q.ownerLcore}` : '-'}`);
    if (p.txq.length) w('  - tx queue');
    for (const q of p.txq) w(`\t  -- ${q.q} descriptors ${q.nbDesc} owner ${q.ownerAlive ? `pid ${q.owner} lcore ${q.ownerLcore}` : '-'}`);
    if (p.rss.on) {
      w('  - RSS info');
      w(`\t  -- key len : 40${p.rss.symmetric ? ' (symmetric)' : ''}`);
      w(`\t  -- hash function : 0x${p.rss.hashFunctions.toString(16)}`);
      w(`\t  -- redirection table : ${p.rss.retaSize} entries`);
    }
  }
}

/** DPDK's show_ring with a name. */
function printRings(rings: RingSnap[]): void {
  border(10, ' show - RING ');
  const flags = (r: RingSnap): number => Number(r.flags ?? 0);
  for (const r of rings) {
    w(`  - Name (${r.name}) on socket (0)`);
    w('  - flags:');
    w(`\t  -- Single Producer Enqueue (${flags(r) & 1})`);
    w(`\t  -- Single Consumer Dequeue (${(flags(r) & 2) >> 1})`);
    w(`  - size (${r.size}) mask (0x${(r.size - 1).toString(16)}) capacity (${r.capacity})`);
    w(`  - count (${r.count}) free count (${r.free})`);
    w(`  - full (${r.free === 0 ? 1 : 0}) empty (${r.count === 0 ? 1 : 0})`);
    w(`  - high-water (${r.highWater})`);
    border(50, '');
  }
}

/** DPDK's show_mempool with a name; without one (all), DPDK's rte_mempool_dump per pool. */
function printPools(pools: PoolSnap[], all: boolean): void {
  border(10, ' show - MEMPOOL ');
  for (const m of pools) {
    const cached = Object.entries(m.cacheFill);
    if (all) {
      w(`mempool <${m.name}>@0x${Number(m.offset ?? 0).toString(16)}`);
      w(`  flags=${m.debug ? 'debug' : '0'}`);
      w('  socket_id=0');
      w(`  size=${m.size}`);
      w(`  populated_size=${m.size}`);
      w(`  elt_size=${m.eltSize}`);
      w(`  total_obj_size=${Number(m.stride ?? m.eltSize)}`);
      w('  internal cache infos:');
      w(`    cache_size=${m.cacheSize}`);
      for (const [l, n] of cached) w(`    cache_count[${l}]=${n}`);
      w(`    total_cache_count=${m.inCaches}`);
      w(`  common_pool_count=${m.inRing}`);
      continue;
    }
    w(`  - Name: ${m.name} on socket 0`);
    w(`  - Size ${m.size} Cache ${m.cacheSize} element ${m.eltSize}`);
    w(`  - Count: avail (${m.available}), in use (${m.inUse})`);
    w(`  - in the pool's ring ${m.inRing}, in lcore caches ${m.inCaches}${cached.length ? ` [lcore:fill ${cached.map(([l, n]) => `${l}:${n}`).join(' ')}]` : ''}`);
  }
}

/** DPDK's -m: memory segments, memory zones, the objects ("tail queues"). */
function printMemory(s: Snapshot, m: { region: { path: string; bytes: number }; objects: Record<string, number> }): void {
  w('----------- MEMORY_SEGMENTS -----------');
  w(`Segment 0: ${m.region.path}, len:${m.region.bytes} (${(m.region.bytes / 1048576).toFixed(0)} MiB), heap free ${s.heap.free} bytes in ${s.heap.freeBlocks} blocks, largest ${s.heap.largestFree}`);
  w('--------- END_MEMORY_SEGMENTS ---------');
  w('------------ MEMORY_ZONES -------------');
  s.memzones.forEach((z, i) => w(`Zone ${i}: name:<${z.name}>, offset:0x${z.offset.toString(16)}, len:0x${z.length.toString(16)}, socket_id:0, flags:0`));
  w('---------- END_MEMORY_ZONES -----------');
  w('------------- TAIL_QUEUES -------------');
  Object.entries(m.objects).forEach(([k, n], i) => w(`Tailq ${i}: qname:<${k}>, entries:${n}`));
  w('---------- END_TAIL_QUEUES ------------');
}
