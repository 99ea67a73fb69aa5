/**
 * l2fwd_fork's statistics table (DPDK l2fwd's print_stats), read from "port_stat" (each
 * field has one slave as its writer; the master only reads: a value may be a burst old).
 */
import { PSTAT } from './layout.js';

/** The table for `ports`, from the f64 view of the region and the "port_stat" offset. */
export function portStatsText(f64: Float64Array, portStat: number, ports: readonly number[]): string {
  const ps = portStat >>> 3;
  const lines = ['', 'Port statistics ===================================='];
  let tx = 0;
  let rx = 0;
  let dropped = 0;
  for (const p of ports) {
    const b = ps + p * PSTAT.STRIDE;
    const t = f64[b + PSTAT.TX]!;
    const rcv = f64[b + PSTAT.RX]!;
    const d = f64[b + PSTAT.DROPPED]!;
    tx += t;
    rx += rcv;
    dropped += d;
    lines.push(
      `Statistics for port ${p} ------------------------------`,
      `Packets sent: ${String(t).padStart(24)}`,
      `Packets received: ${String(rcv).padStart(20)}`,
      `Packets dropped: ${String(d).padStart(21)}`,
    );
  }
  lines.push(
    'Aggregate statistics ===============================',
    `Total packets sent: ${String(tx).padStart(18)}`,
    `Total packets received: ${String(rx).padStart(14)}`,
    `Total packets dropped: ${String(dropped).padStart(15)}`,
    '====================================================',
  );
  return lines.join('\n') + '\n';
}
