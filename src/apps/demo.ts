/**
 * `mpdk demo` (npm run demo): the guide's client-server system running on this machine.
 * It starts, as real processes, an mp_server over two net_ring ports, two mp_clients and
 * `mpdk pktgen` (the wire: frames into both ports, counted when they come back out of the
 * paired one). While traffic runs it prints a live line of rates read from the server's
 * port table (the demo maps the instance read-only, as `mpdk info` does); at the end a
 * table: sent / forwarded / lost, Mpps per client, latency p50/p99 (from pktgen).
 * Without a pktgen program it plays the wire itself (mp_server/traffic.ts).
 * Everything it started is stopped (Ctrl-C too), and the instance's files are gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stderrLogger, Eal, instanceFiles, parseArgs, type ProgramSpec } from '../index.js';
import { PortInfoView } from './mp_server/common.js';

const MPDK = fileURLToPath(new URL('../cli/mpdk.js', import.meta.url));
const SECONDS = 3;
/** Offered load, packets per second over both ports: well inside what 2 shared cores forward. */
const RATE = '400k';
/**
 * Frames pktgen keeps in flight at most (its --window): no queue on the way holds fewer
 * (a port's TX queue: 1024; a client's ring: 2048), so none can overflow, whatever the
 * other processes of the machine make the clients lose (a slow start, a preemption): the
 * generator waits for frames to come back instead (backpressure, not loss).
 */
const WINDOW = 1024;

interface Proc {
  child: ChildProcess;
  out: string;
  waitFor(re: RegExp, ms: number): Promise<void>;
  done: Promise<number>;
}

const procs: Proc[] = [];

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [MPDK, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = {
    child,
    out: '',
    waitFor: (re, ms) => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`demo: timed out after ${ms} ms waiting for ${re} from 'mpdk ${args[0]}':\n${p.out}`)), ms);
      const check = (): void => {
        if (!re.test(p.out)) return;
        clearTimeout(t);
        child.stdout!.off('data', check);
        child.stderr!.off('data', check);
        resolve();
      };
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      check();
    }),
    done: new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 128 : 1)))),
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (p.out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (p.out += d));
  procs.push(p);
  return p;
}

async function stopAll(): Promise<void> {
  // Clients first (the server's death would make them exit 1), then the server.
  for (const p of [...procs].reverse()) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
    p.child.kill('SIGINT');
    const t = setTimeout(() => p.child.kill('SIGKILL'), 3000);
    await p.done;
    clearTimeout(t);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function hasPktgen(): Promise<boolean> {
  try {
    await import(new URL('./pktgen/main.js', import.meta.url).href);
    return true;
  } catch {
    return false;
  }
}

interface Outcome {
  sent: number;
  received: number;
  lost: number;
  p50: number;
  p99: number;
  source: string;
}

export const spec: ProgramSpec = {
  name: 'demo',
  synopsis: '(no options)',
  eal: false,
  about: `The guide's client-server system on this machine: an mp_server over two net_ring ports, two
mp_clients and mpdk pktgen, as real processes, for ${SECONDS} s; a live line of rates, then a table
(sent, forwarded, lost, Mpps per client, latency p50/p99). Everything it starts is stopped at
the end (Ctrl-C too) and the instance's files are removed.`,
  options: [],
};

export async function main(argv: string[]): Promise<number> {
  parseArgs(spec, argv);
  const prefix = `demo${process.pid}`;
  const eal = ['--file-prefix', prefix, '--log-level', 'warning'];
  const tty = process.stdout.isTTY === true;
  const onSig = (): void => void stopAll().then(() => process.exit(130));
  process.once('SIGINT', onSig);
  process.stdout.write(`mpdk demo: client-server forwarding over two net_ring ports (instance '${prefix}')\n`);
  process.stdout.write(`  mpdk mp_server -l 0 --vdev=net_ring0 --vdev=net_ring1 -- -p 3 -n 2\n  mpdk mp_client -l 2 --proc-type=auto -- -n 0\n  mpdk mp_client -l 3 --proc-type=auto -- -n 1\n`);
  let outcome: Outcome | undefined;
  let clients: { tx: number; rx: number; rxDrop: number }[] = [];
  try {
    const server = start(['mp_server', '-l', '0', '--vdev=net_ring0', '--vdev=net_ring1', ...eal, '--', '-p', '3', '-n', '2']);
    await server.waitFor(/Finished Process Init/, 10000);
    const c0 = start(['mp_client', '-l', '2', '--proc-type=auto', ...eal, '--', '-n', '0']);
    const c1 = start(['mp_client', '-l', '3', '--proc-type=auto', ...eal, '--', '-n', '1']);
    await Promise.all([c0.waitFor(/handling packets/, 10000), c1.waitFor(/handling packets/, 10000)]);
    const view = Eal.observe(prefix);
    const info = PortInfoView.lookup(view);
    const usePktgen = await hasPktgen();
    process.stdout.write(`  ${usePktgen ? `mpdk pktgen -l 4 --proc-type=secondary -- --tx-port 0,1 --rx-port 0,1 --flows 64 --rate ${RATE} --window ${WINDOW} --duration ${SECONDS}` : 'built-in wire (no mpdk pktgen): both ports'}\n\n`);

    // Live line: per-client forwarding rate from the port table, every 500 ms.
    let last = info.portIds.map((_, i) => info.client(i));
    void last;
    last = [0, 1].map((i) => info.client(i));
    let lastT = performance.now();
    const t0 = lastT;
    const live = setInterval(() => {
      const now = performance.now();
      const cur = [0, 1].map((i) => info.client(i));
      const dt = (now - lastT) / 1000;
      const rates = cur.map((c, i) => ((c.tx - last[i]!.tx) / dt / 1e6).toFixed(3));
      const drops = cur.reduce((a, c) => a + c.rxDrop + c.txDrop, 0);
      const line = `  t=${((now - t0) / 1000).toFixed(1)}s  client 0: ${rates[0]} Mpps  client 1: ${rates[1]} Mpps  forwarded ${cur.reduce((a, c) => a + c.tx, 0)}  dropped ${drops}`;
      process.stdout.write(tty ? `\r${line}\x1b[K` : line + '\n');
      last = cur;
      lastT = now;
    }, 500);
    try {
      outcome = usePktgen ? await runPktgen(eal) : await runBuiltIn(prefix);
    } finally {
      clearInterval(live);
      if (tty) process.stdout.write('\n');
    }
    clients = [0, 1].map((i) => info.client(i));
    view.release(); // the observer's mapping, unmapped (nothing read through it is kept)
  } finally {
    process.off('SIGINT', onSig);
    await stopAll();
  }
  const o = outcome!;
  const secs = SECONDS;
  const row = (a: string, b: string): string => `  ${a.padEnd(28)}${b}\n`;
  process.stdout.write('\n');
  process.stdout.write(row('traffic source', o.source));
  process.stdout.write(row('packets sent', String(o.sent)));
  process.stdout.write(row('packets forwarded', String(o.received)));
  process.stdout.write(row('packets lost', String(o.lost)));
  clients.forEach((c, i) => process.stdout.write(row(`client ${i}`, `${c.tx} forwarded, ${(c.tx / secs / 1e6).toFixed(3)} Mpps, ring drops ${c.rxDrop}`)));
  process.stdout.write(row('latency p50 / p99', Number.isFinite(o.p50) ? `${o.p50} µs / ${o.p99} µs` : 'n/a'));
  const rate = o.received / secs;
  process.stdout.write(`\n${o.lost === 0 && o.sent > 0
    ? `nothing lost: all ${o.sent} packets came back, ${(rate / 1e6).toFixed(3)} Mpps forwarded (offered ${RATE} pps)`
    : `LOST ${o.lost} of ${o.sent} packets (${((100 * o.lost) / Math.max(1, o.sent)).toFixed(2)} %)`}\n`);
  const left = fs.existsSync(instanceFiles(prefix).dir);
  process.stdout.write(`\nserver, clients and generator stopped; ${left ? `files remain in ${instanceFiles(prefix).dir}` : "the instance's files are gone"}\n`);
  return left ? 1 : 0;
}

async function runPktgen(eal: string[]): Promise<Outcome> {
  const g = start(['pktgen', '-l', '4', '--proc-type=secondary', ...eal, '--', '--tx-port', '0,1', '--rx-port', '0,1', '--flows', '64', '--rate', RATE, '--window', String(WINDOW), '--duration', String(SECONDS), '--json', '--quiet']);
  const code = await Promise.race([g.done, sleep((SECONDS + 8) * 1000).then(() => -1)]);
  const json = g.out.slice(g.out.indexOf('{'), g.out.lastIndexOf('}') + 1);
  if (code !== 0 || !json) throw new Error(`demo: pktgen ${code === -1 ? 'did not finish' : `exited with ${code}`}:\n${g.out}`);
  const r = JSON.parse(json) as { sent: number; received: number; lost: number; latency: { p50Us: number; p99Us: number } | null };
  return { sent: r.sent, received: r.received, lost: r.lost, p50: r.latency?.p50Us ?? NaN, p99: r.latency?.p99Us ?? NaN, source: 'mpdk pktgen' };
}

async function runBuiltIn(prefix: string): Promise<Outcome> {
  const { Traffic } = await import('./mp_server/traffic.js');
  const { eal } = Eal.init(['-l', '4', '--file-prefix', prefix, '--proc-type=secondary', '--log-level', 'error'], { logger: stderrLogger, handleSignals: true });
  eal.onPrimaryExit(() => undefined);
  const t = new Traffic(eal, PortInfoView.lookup(eal));
  try {
    const pps = 400_000;
    const t0 = performance.now();
    const end = t0 + SECONDS * 1000;
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - t0) / 1000) * pps);
      while (t.sent < due) if (t.inject(Math.min(32, due - t.sent)) === 0) break;
      t.collect();
      await sleep(1);
    }
    const drainEnd = performance.now() + 500;
    while (t.received < t.sent && performance.now() < drainEnd) {
      t.collect();
      await sleep(1);
    }
    return { sent: t.sent, received: t.received, lost: t.sent - t.received, p50: t.latencyUs(0.5), p99: t.latencyUs(0.99), source: 'built-in wire' };
  } finally {
    t.close();
    eal.close();
  }
}
