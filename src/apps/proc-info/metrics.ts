/**
 * The Prometheus exporter: `mpdk exporter --file-prefix X [--prometheus [ADDRESS]:PORT]`
 * (or `mpdk proc-info ... --prometheus ...`) serves a snapshot (snapshot.ts) in the
 * Prometheus text format (0.0.4) at http://ADDRESS:PORT/metrics until SIGINT/SIGTERM.
 *
 *   port        6735 by default ("MPDK" on a phone keypad): outside 9100-9999, the block
 *               Prometheus hands out to registered exporters (full by now: any free-looking
 *               number there may be someone's), away from Prometheus (9090), the
 *               Pushgateway (9091), Alertmanager (9093), DPDK's own
 *               dpdk-telemetry-exporter.py (9876), and from every port Debian's
 *               /etc/services names.
 *   address     the loopback (127.0.0.1) by default; any other (0.0.0.0, [::], a host's
 *               address) is served with a warning: the counters then reach whoever
 *               reaches the port, with no authentication.
 *   instance    followed, not required: the exporter starts without it (mpdk_up 0), serves
 *               it while it runs, says mpdk_up 0 when it goes (its mapping released, so
 *               the memory of a removed instance is freed) and follows the next instance
 *               with that prefix.
 *   series      every label is stable across process restarts: a process is named by its
 *               main lcore and its name; its pid and type are in mpdk_process_info (the
 *               info-metric pattern), so a restart changes one info series, nothing else.
 *               `promtool check metrics` finds nothing to say (test/proc-info.test.ts).
 */
import http from 'node:http';
import net from 'node:net';
import { Eal, MPDK_VERSION, MpdkError, UsageError, isMpdkError } from '../../index.js';
import { instanceGone, rememberInstance, snapshot, type Snapshot } from './snapshot.js';

/** Where `mpdk exporter` listens unless told otherwise. */
export const DEFAULT_PORT = 6735;
export const DEFAULT_LISTEN = `127.0.0.1:${DEFAULT_PORT}`;

type Labels = Record<string, string | number>;
type QueueStats = Snapshot['ports'][number]['stats']['queues'][number];

class Out {
  private readonly lines: string[] = [];
  private readonly seen = new Set<string>();

  metric(name: string, type: 'gauge' | 'counter', help: string, labels: Labels, v: number): void {
    if (!this.seen.has(name)) {
      this.seen.add(name);
      this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    }
    const l = Object.entries(labels).map(([k, x]) => `${k}="${String(x).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',');
    this.lines.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(v) ? String(v) : 'NaN'}`);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

/** A process's stable name in series: its lowest lcore (fixed by its -l) and its program. */
function procLabels(p: Snapshot['processes'][number]): Labels {
  return { lcore: p.lcores.length ? Math.min(...p.lcores) : -1, name: p.name };
}

/** The snapshot in the Prometheus text format (metrics of one name grouped, as the format requires). */
export function prometheusText(s: Snapshot | undefined, prefix?: string): string {
  const o = new Out();
  const inst = { instance_prefix: s?.filePrefix ?? prefix ?? '' };
  o.metric('mpdk_up', 'gauge', '1 while the instance runs (a live process), 0 while it does not', inst, s ? 1 : 0);
  o.metric('mpdk_build_info', 'gauge', 'the mpdk version serving these metrics', { version: MPDK_VERSION }, 1);
  if (!s) return o.text();
  o.metric('mpdk_region_bytes', 'gauge', 'size of the shared region', inst, s.regionSize);
  o.metric('mpdk_heap_free_bytes', 'gauge', 'free bytes of the shared heap', inst, s.heap.free);
  o.metric('mpdk_primary_up', 'gauge', '1 while the primary process runs', inst, s.primary.alive ? 1 : 0);
  const live = s.processes.filter((p) => p.alive);
  for (const p of live) {
    o.metric('mpdk_process_info', 'gauge', 'a live process of the instance: its pid and type (the other process series carry only lcore and name)', { ...inst, ...procLabels(p), pid: p.pid, type: p.type, lcores: p.lcores.join(',') }, 1);
  }
  for (const p of live) if (p.cpuSeconds >= 0) o.metric('mpdk_process_cpu_seconds_total', 'counter', 'user + system CPU time of the process', { ...inst, ...procLabels(p) }, p.cpuSeconds);
  for (const p of live) o.metric('mpdk_process_resident_memory_bytes', 'gauge', 'resident set size of the process', { ...inst, ...procLabels(p) }, p.rssBytes);
  for (const l of s.lcores) {
    if (!l.alive) continue;
    o.metric('mpdk_lcore_busy_seconds_total', 'counter', 'time the lcore poll loop spent in rounds that moved something, since its process claimed it', { ...inst, lcore: l.lcore }, l.usage.busyNs / 1e9);
  }
  for (const l of s.lcores) {
    if (!l.alive) continue;
    o.metric('mpdk_lcore_idle_seconds_total', 'counter', 'time the lcore poll loop spent in empty rounds, yields and sleeps, since its process claimed it', { ...inst, lcore: l.lcore }, l.usage.idleNs / 1e9);
  }
  const portL = (p: Snapshot['ports'][number]): Labels => ({ ...inst, port: p.id, name: p.name });
  for (const p of s.ports) o.metric('mpdk_port_info', 'gauge', 'a port of the instance and its driver', { ...portL(p), driver: p.driver }, 1);
  for (const p of s.ports) o.metric('mpdk_port_started', 'gauge', '1 while the port is started', portL(p), p.state === 'started' ? 1 : 0);
  for (const p of s.ports) o.metric('mpdk_port_link_up', 'gauge', '1 while the port link is up', portL(p), p.link.up ? 1 : 0);
  const qc: [string, string, (q: QueueStats) => number, boolean][] = [
    ['mpdk_port_rx_packets_total', 'packets received, per RX queue (ipackets)', (q) => q.ipackets, true],
    ['mpdk_port_rx_bytes_total', 'bytes received, per RX queue (ibytes)', (q) => q.ibytes, true],
    ['mpdk_port_rx_missed_total', 'packets dropped on the way in because the RX queue was full (imissed; see the README counters table)', (q) => q.imissed, true],
    ['mpdk_port_rx_errors_total', 'receive errors (ierrors)', (q) => q.ierrors, true],
    ['mpdk_port_rx_nombuf_total', 'packets not received for want of an mbuf (rx_nombuf)', (q) => q.rxNombuf, true],
    ['mpdk_port_tx_packets_total', 'packets transmitted, per TX queue (opackets)', (q) => q.opackets, false],
    ['mpdk_port_tx_bytes_total', 'bytes transmitted, per TX queue (obytes)', (q) => q.obytes, false],
    ['mpdk_port_tx_errors_total', 'packets a TX queue did not take (oerrors; net_ring: its ring was full)', (q) => q.oerrors, false],
  ];
  for (const [name, help, get, rx] of qc) {
    for (const p of s.ports) {
      const nb = rx ? p.nbRx : p.nbTx;
      for (const q of p.stats.queues) if (q.q < nb) o.metric(name, 'counter', help, { ...portL(p), queue: q.q }, get(q));
    }
  }
  const rings: [string, string, (r: Snapshot['rings'][number]) => number][] = [
    ['mpdk_ring_capacity_entries', 'entries a ring can hold', (r) => r.capacity],
    ['mpdk_ring_entries', 'entries in the ring now', (r) => r.count],
    ['mpdk_ring_free_entries', 'free entries in the ring now', (r) => r.free],
    ['mpdk_ring_high_water_entries', 'most entries the ring has held', (r) => r.highWater],
  ];
  for (const [name, help, get] of rings) for (const r of s.rings) o.metric(name, 'gauge', help, { ...inst, ring: r.name }, get(r));
  const pools: [string, string, (m: Snapshot['mempools'][number]) => number][] = [
    ['mpdk_mempool_size_objects', 'objects in the pool', (m) => m.size],
    ['mpdk_mempool_available_objects', 'objects free (in the pool ring and the lcore caches)', (m) => m.available],
    ['mpdk_mempool_in_use_objects', 'objects taken out of the pool', (m) => m.inUse],
  ];
  for (const [name, help, get] of pools) for (const m of s.mempools) o.metric(name, 'gauge', help, { ...inst, mempool: m.name }, get(m));
  for (const m of s.mempools) {
    for (const [lc, n] of Object.entries(m.cacheFill)) o.metric('mpdk_mempool_cached_objects', 'gauge', 'free objects in an lcore cache of the pool', { ...inst, mempool: m.name, lcore: lc }, n);
  }
  for (const z of s.memzones) o.metric('mpdk_memzone_bytes', 'gauge', 'length of a memzone', { ...inst, memzone: z.name }, z.length);
  for (const c of s.captures) o.metric('mpdk_capture_armed', 'gauge', '1 while a dumpcap captures this queue', { ...inst, port: c.port, direction: c.dir, queue: c.queue }, c.armed ? 1 : 0);
  for (const c of s.captures) o.metric('mpdk_capture_packets_total', 'counter', 'packets copied into the capture ring', { ...inst, port: c.port, direction: c.dir, queue: c.queue }, c.packets);
  for (const c of s.captures) o.metric('mpdk_capture_drops_total', 'counter', 'packets not captured because the capture ring was full', { ...inst, port: c.port, direction: c.dir, queue: c.queue }, c.drops);
  for (const c of s.captures) o.metric('mpdk_capture_tap_seconds_total', 'counter', 'time the application spent copying for captures', { ...inst, port: c.port, direction: c.dir, queue: c.queue }, c.tapNs / 1e9);
  return o.text();
}

const LISTEN_HINT = 'use [ADDRESS]:PORT, e.g. 6735, 127.0.0.1:6735, 0.0.0.0:6735 or [::1]:6735 (port 0 picks a free one)';

/** Parse `6735`, `:6735`, `ADDRESS:PORT` or `[IPv6]:PORT`; no address means the loopback. */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)?:)?(\d{1,5})$/.exec(spec);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`invalid --prometheus '${spec}': ${LISTEN_HINT}`);
  const host = m[1] === undefined ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '');
  if (m[1]?.startsWith('[') && net.isIPv6(host) === false) throw new UsageError(`invalid --prometheus '${spec}': '${host}' is not an IPv6 address; ${LISTEN_HINT}`);
  return { host, port };
}

/** Is `host` the loopback (127.0.0.0/8, ::1, localhost)? */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
}

/** The instance, followed across restarts (see the header). */
class Follower {
  private eal: Eal | undefined;

  constructor(private readonly prefix: string, private readonly hugeDir: string | undefined) {}

  /** A snapshot of the running instance, or undefined while none runs. */
  current(): Snapshot | undefined {
    if (this.eal && instanceGone(this.eal)) this.drop();
    if (!this.eal) {
      try {
        this.eal = Eal.observe(this.prefix, { logLevel: 'error', hugeDir: this.hugeDir });
        rememberInstance(this.eal);
      } catch (e) {
        if (isMpdkError(e) && e.code === 'ENOENT') return undefined; // not running (yet, or any more)
        throw e;
      }
      if (instanceGone(this.eal)) {
        this.drop();
        return undefined;
      }
    }
    return snapshot(this.eal);
  }

  drop(): void {
    this.eal?.release();
    this.eal = undefined;
  }
}

/** Serve until SIGINT/SIGTERM; resolves with the exit status. */
export async function serveMetrics(prefix: string, listen: string, hugeDir?: string): Promise<number> {
  const { host, port } = parseListen(listen);
  const follow = new Follower(prefix, hugeDir);
  follow.current(); // a folder mpdk refuses (another user's) is refused now, in one line; absent is fine
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || (path !== '/metrics' && path !== '/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('mpdk exporter: GET /metrics\n');
      return;
    }
    let body: string;
    try {
      body = prometheusText(follow.current(), prefix);
    } catch (e) {
      follow.drop();
      body = prometheusText(undefined, prefix) + `# error: ${(e as Error).message.replace(/\n/g, ' ')}\n`;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new MpdkError(e.code === 'EADDRINUSE' ? 'EBUSY' : 'EIO', `cannot listen on ${host}:${port}: ${e.code === 'EADDRINUSE' ? 'the port is taken; choose another with --prometheus ADDRESS:PORT' : e.message}`)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  if (!isLoopback(host)) {
    process.stderr.write(`mpdk exporter: warning: listening on ${shown}:${actual}, not the loopback: whoever reaches this port reads the instance's counters and names, without authentication; restrict it with a firewall or listen on 127.0.0.1\n`);
  }
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      server.close();
      server.closeAllConnections();
      follow.drop();
      resolve(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // Only now: whoever stops us on reading this line must find the handlers in place
    // (before them a signal ends the process at once, as killed).
    process.stdout.write(`serving the metrics of instance '${prefix}' at http://${shown}:${actual}/metrics (Ctrl-C stops)\n`);
  });
}
