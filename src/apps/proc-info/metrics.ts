/**
 * The Prometheus exporter: `mpdk proc-info --file-prefix X --prometheus [127.0.0.1]:PORT`
 * (or `mpdk exporter ...`) serves a snapshot (snapshot.ts) in the Prometheus text format
 * (version 0.0.4) at http://127.0.0.1:PORT/metrics until SIGINT/SIGTERM. Each scrape takes
 * a fresh read-only snapshot; when the instance goes away it serves `mpdk_up 0` and
 * re-attaches when an instance with that prefix is back. Listens on the loopback only.
 */
import http from 'node:http';
import { Eal, MpdkError, UsageError } from '../../index.js';
import { instanceGone, rememberInstance, snapshot, type Snapshot } from './snapshot.js';

type Labels = Record<string, string | number>;

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

/** The snapshot in the Prometheus text format (metrics of one name are grouped, as the format requires). */
export function prometheusText(s: Snapshot | undefined): string {
  const o = new Out();
  o.metric('mpdk_up', 'gauge', '1 when the instance is attached and has a live process', {}, s ? 1 : 0);
  if (!s) return o.text();
  const inst = { instance_prefix: s.filePrefix };
  o.metric('mpdk_region_bytes', 'gauge', 'size of the shared region', inst, s.regionSize);
  o.metric('mpdk_heap_free_bytes', 'gauge', 'free bytes of the shared heap', inst, s.heap.free);
  o.metric('mpdk_primary_alive', 'gauge', '1 while the primary process runs', { ...inst, pid: s.primary.pid }, s.primary.alive ? 1 : 0);
  for (const p of s.processes) {
    o.metric('mpdk_process_alive', 'gauge', 'registered processes (1 = alive)', { ...inst, pid: p.pid, type: p.type, name: p.name, lcores: p.lcores.join(',') }, p.alive ? 1 : 0);
  }
  for (const p of s.processes) if (p.cpuSeconds >= 0) o.metric('mpdk_process_cpu_seconds_total', 'counter', 'user + system CPU time of the process', { ...inst, pid: p.pid, name: p.name }, p.cpuSeconds);
  for (const p of s.processes) if (p.alive) o.metric('mpdk_process_resident_bytes', 'gauge', 'resident set size of the process', { ...inst, pid: p.pid, name: p.name }, p.rssBytes);
  const portL = (p: Snapshot['ports'][number]): Labels => ({ ...inst, port: p.id, name: p.name });
  for (const p of s.ports) o.metric('mpdk_port_link_up', 'gauge', '1 when the port is started (link up)', { ...portL(p), driver: p.driver, state: p.state }, p.link.up ? 1 : 0);
  const qc: [string, string, (q: Snapshot['ports'][number]['stats']['queues'][number]) => number, boolean][] = [
    ['mpdk_port_rx_packets_total', 'packets received, per RX queue', (q) => q.ipackets, true],
    ['mpdk_port_rx_bytes_total', 'bytes received, per RX queue', (q) => q.ibytes, true],
    ['mpdk_port_rx_missed_total', 'packets the port could not put into a full RX queue (imissed)', (q) => q.imissed, true],
    ['mpdk_port_rx_errors_total', 'receive errors (ierrors)', (q) => q.ierrors, true],
    ['mpdk_port_rx_nombuf_total', 'packets not received for want of an mbuf (rx_nombuf)', (q) => q.rxNombuf, true],
    ['mpdk_port_tx_packets_total', 'packets transmitted, per TX queue', (q) => q.opackets, false],
    ['mpdk_port_tx_bytes_total', 'bytes transmitted, per TX queue', (q) => q.obytes, false],
    ['mpdk_port_tx_errors_total', 'packets a TX queue did not take (oerrors)', (q) => q.oerrors, false],
  ];
  for (const [name, help, get, rx] of qc) {
    for (const p of s.ports) {
      const nb = rx ? p.nbRx : p.nbTx;
      for (const q of p.stats.queues) if (q.q < nb) o.metric(name, 'counter', help, { ...portL(p), queue: q.q }, get(q));
    }
  }
  for (const r of s.rings) {
    const l = { ...inst, ring: r.name };
    o.metric('mpdk_ring_capacity', 'gauge', 'entries a ring can hold', l, r.capacity);
    o.metric('mpdk_ring_count', 'gauge', 'entries in the ring now', l, r.count);
    o.metric('mpdk_ring_free', 'gauge', 'free entries in the ring now', l, r.free);
    o.metric('mpdk_ring_high_water', 'gauge', 'most entries the ring has held', l, r.highWater);
  }
  for (const m of s.mempools) {
    const l = { ...inst, mempool: m.name };
    o.metric('mpdk_mempool_size', 'gauge', 'objects in the pool', l, m.size);
    o.metric('mpdk_mempool_available', 'gauge', 'objects free (ring + per-lcore caches)', l, m.available);
    o.metric('mpdk_mempool_in_use', 'gauge', 'objects taken', l, m.inUse);
    for (const [lc, n] of Object.entries(m.cacheFill)) o.metric('mpdk_mempool_cache_count', 'gauge', 'objects in an lcore cache', { ...l, lcore: lc }, n);
  }
  for (const z of s.memzones) o.metric('mpdk_memzone_bytes', 'gauge', 'length of a memzone', { ...inst, memzone: z.name }, z.length);
  for (const c of s.captures) {
    const l = { ...inst, port: c.port, direction: c.dir, queue: c.queue };
    o.metric('mpdk_capture_armed', 'gauge', '1 while a dumpcap captures this queue', l, c.armed ? 1 : 0);
    o.metric('mpdk_capture_packets_total', 'counter', 'packets copied into the capture ring', l, c.packets);
    o.metric('mpdk_capture_drops_total', 'counter', 'packets not captured because the capture ring was full', l, c.drops);
    o.metric('mpdk_capture_tap_seconds_total', 'counter', 'time the application spent copying for captures', l, c.tapNs / 1e9);
  }
  return o.text();
}

/** Parse `:9091`, `9091`, `127.0.0.1:9091` or `localhost:9091` (loopback only). */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:(127\.0\.0\.1|localhost|\[::1\]|::1)?:)?(\d{1,5})$/.exec(spec);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`invalid --prometheus '${spec}': use [127.0.0.1]:PORT, e.g. :9091 (0 picks a free port); it listens on the loopback only`);
  const host = m[1] === 'localhost' || m[1] === undefined ? '127.0.0.1' : m[1].replace(/[[\]]/g, '');
  return { host, port };
}

/** Serve until SIGINT/SIGTERM; resolves with the exit status. */
export async function serveMetrics(prefix: string, listen: string): Promise<number> {
  const { host, port } = parseListen(listen);
  let eal: Eal | undefined = Eal.observe(prefix); // ENOENT when there is no instance: refuse at once
  rememberInstance(eal);
  const current = (): Snapshot | undefined => {
    if (eal && instanceGone(eal)) eal = undefined;
    if (!eal) {
      try {
        eal = Eal.observe(prefix, 'error');
        rememberInstance(eal);
        if (instanceGone(eal)) eal = undefined;
      } catch {
        eal = undefined;
      }
    }
    return eal ? snapshot(eal) : undefined;
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || (path !== '/metrics' && path !== '/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('mpdk exporter: GET /metrics\n');
      return;
    }
    let body: string;
    try {
      body = prometheusText(current());
    } catch (e) {
      body = prometheusText(undefined) + `# error: ${(e as Error).message.replace(/\n/g, ' ')}\n`;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new MpdkError(e.code === 'EADDRINUSE' ? 'EBUSY' : 'EIO', `cannot listen on ${host}:${port}: ${e.message}`)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  process.stdout.write(`serving the metrics of instance '${prefix}' at http://${host}:${actual}/metrics (Ctrl-C stops)\n`);
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      server.close();
      server.closeAllConnections();
      resolve(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
