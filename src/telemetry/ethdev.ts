/**
 * The ports' telemetry commands, with DPDK 22.11's names and reply shapes (lib/ethdev
 * rte_ethdev.c, checked against dpdk-testpmd's replies): /ethdev/list, /ethdev/info,
 * /ethdev/stats, /ethdev/xstats, /ethdev/link_status. Read-only: everything comes from the
 * port table's description (EthDev.describe), which any process can read without
 * attaching; nothing here probes, claims or resets a port.
 *
 * A port parameter is read as DPDK does: it must start with a digit, then strtoul (base 0)
 * — atoi for /ethdev/stats — takes the number and ignores the rest; a missing, non-numeric
 * or unknown port is a null reply.
 *
 * Also `ethdevXstats`: DPDK's basic extended statistics of a port (rx_good_packets, ...,
 * rx_q<N>_packets, ...), the one list proc-info and the exporter print too.
 */
import type { PortInfo, PortStats } from '../ethdev/ethdev.js';
import { describeKind } from '../eal/describe.js';
import { leadingInt, registerTelemetryCommand } from '../eal/telemetry.js';
import type { Eal } from '../eal/eal.js';
import type { TelValue } from '../eal/telemetry-json.js';

/** DPDK's RTE_ETHDEV_QUEUE_STAT_CNTRS: per-queue counters kept for the first 16 queues. */
export const QUEUE_STAT_CNTRS = 16;

/** A port as its description gives it: its info and its counters. */
type PortDesc = Omit<PortInfo, 'name'> & { name: string; stats: PortStats };

function ports(eal: Eal): PortDesc[] {
  return describeKind(eal, 'port').filter((p) => p.error === undefined) as unknown as PortDesc[];
}

function portOf(eal: Eal, params: string | undefined, base: 0 | 10): PortDesc | undefined {
  const id = leadingInt(params, base);
  return id === undefined ? undefined : ports(eal).find((p) => p.id === id);
}

/**
 * DPDK's basic xstats of a port, in DPDK's order: the eight port counters, then per RX
 * queue packets, bytes, errors, then per TX queue packets, bytes (the first 16 queues).
 */
export function ethdevXstats(stats: PortStats, nbRx: number, nbTx: number): Record<string, number> {
  const x: Record<string, number> = {
    rx_good_packets: stats.ipackets, tx_good_packets: stats.opackets, rx_good_bytes: stats.ibytes, tx_good_bytes: stats.obytes,
    rx_missed_errors: stats.imissed, rx_errors: stats.ierrors, tx_errors: stats.oerrors, rx_mbuf_allocation_errors: stats.rxNombuf,
  };
  for (const q of stats.queues) {
    if (q.q >= Math.min(nbRx, QUEUE_STAT_CNTRS)) continue;
    x[`rx_q${q.q}_packets`] = q.ipackets;
    x[`rx_q${q.q}_bytes`] = q.ibytes;
    x[`rx_q${q.q}_errors`] = q.ierrors;
  }
  for (const q of stats.queues) {
    if (q.q >= Math.min(nbTx, QUEUE_STAT_CNTRS)) continue;
    x[`tx_q${q.q}_packets`] = q.opackets;
    x[`tx_q${q.q}_bytes`] = q.obytes;
  }
  return x;
}

/** 16 per-queue values (DPDK's q_* arrays), zero beyond the port's queues. */
function perQueue(p: PortDesc, rx: boolean, get: (q: PortStats['queues'][number]) => number): number[] {
  const n = rx ? p.nbRx : p.nbTx;
  return Array.from({ length: QUEUE_STAT_CNTRS }, (_, i) => {
    const q = p.stats.queues.find((x) => x.q === i);
    return q && i < n ? get(q) : 0;
  });
}

/** DPDK's port states: RTE_ETH_DEV_ATTACHED = 1 for every probed port. */
const ETH_DEV_ATTACHED = 1;
/** DPDK's rxq/txq states: RTE_ETH_QUEUE_STATE_STOPPED 0, STARTED 1. */
const QUEUE_STARTED = 1;
/** DPDK's dev_flags bit RTE_ETH_DEV_AUTOFILL_QUEUE_XSTATS (0x40), set by net_ring and net_null. */
const AUTOFILL_QUEUE_XSTATS = 0x40;
const DEFAULT_MTU = 1500;

/** DPDK's min_rx_buf_size: the smallest data room of the port's RX pools (0 before any RX queue setup). */
function rxBufMin(eal: Eal, p: PortDesc): number {
  const pools = new Set(p.rxq.filter((q) => q.setUp && q.pool !== undefined).map((q) => q.pool));
  const rooms = describeKind(eal, 'mbuf_pool').filter((m) => pools.has(m.name)).map((m) => Number(m.dataRoom));
  return rooms.length ? Math.min(...rooms) : 0;
}

function info(eal: Eal, p: PortDesc): { [k: string]: TelValue } {
  const started = p.state === 'started';
  const qstate = (n: number): number[] => Array.from({ length: n }, () => (started ? QUEUE_STARTED : 0));
  return {
    name: p.name, state: ETH_DEV_ATTACHED, nb_rx_queues: p.nbRx, nb_tx_queues: p.nbTx, port_id: p.id, mtu: DEFAULT_MTU,
    rx_mbuf_size_min: rxBufMin(eal, p), mac_addr: p.mac.toUpperCase(), promiscuous: p.promiscuous ? 1 : 0, scattered_rx: 0, all_multicast: 0,
    dev_started: started ? 1 : 0, lro: 0, dev_configured: p.state === 'probed' ? 0 : 1, rxq_state: qstate(p.nbRx), txq_state: qstate(p.nbTx),
    numa_node: 0, dev_flags: AUTOFILL_QUEUE_XSTATS, rx_offloads: 0, tx_offloads: 0, ethdev_rss_hf: p.rss.on ? p.rss.hashFunctions : 0,
  };
}

registerTelemetryCommand('/ethdev/list', (_c, _p, eal) => ports(eal).map((p) => p.id), 'Returns list of available ethdev ports. Takes no parameters');

registerTelemetryCommand('/ethdev/stats', (_c, params, eal) => {
  const p = portOf(eal, params, 10);
  if (!p) return undefined;
  const s = p.stats;
  return {
    ipackets: s.ipackets, opackets: s.opackets, ibytes: s.ibytes, obytes: s.obytes, imissed: s.imissed, ierrors: s.ierrors, oerrors: s.oerrors, rx_nombuf: s.rxNombuf,
    q_ipackets: perQueue(p, true, (q) => q.ipackets), q_opackets: perQueue(p, false, (q) => q.opackets),
    q_ibytes: perQueue(p, true, (q) => q.ibytes), q_obytes: perQueue(p, false, (q) => q.obytes), q_errors: perQueue(p, true, (q) => q.ierrors),
  };
}, 'Returns the common stats for a port. Parameters: int port_id');

registerTelemetryCommand('/ethdev/xstats', (_c, params, eal) => {
  const p = portOf(eal, params, 0);
  return p ? ethdevXstats(p.stats, p.nbRx, p.nbTx) : undefined;
}, 'Returns the extended stats for a port. Parameters: int port_id');

registerTelemetryCommand('/ethdev/link_status', (_c, params, eal): TelValue | undefined => {
  const p = portOf(eal, params, 0);
  if (!p) return undefined;
  return p.link.up ? { status: 'UP', speed: p.link.speedMbps, duplex: 'full-duplex' } : { status: 'DOWN' };
}, 'Returns the link status for a port. Parameters: int port_id');

registerTelemetryCommand('/ethdev/info', (_c, params, eal) => {
  const p = portOf(eal, params, 0);
  return p ? info(eal, p) : undefined;
}, 'Returns the device info for a port. Parameters: int port_id');
