/**
 * `mpdk top --file-prefix X [-d SECONDS] [--once] [--view ports|rings|mempools]`: a live view
 * of a running instance (Snabb's `snabb top`), redrawn every SECONDS (default 1) from two
 * read-only snapshots (proc-info/snapshot.ts; Eal.observe, a PROT_READ mapping):
 *
 *   top block   per process: pid, type, name, lcores, CPU % (utime+stime deltas from
 *               /proc/<pid>/stat; 100 % = one core), BUSY % per lcore (the share of its
 *               poll loop's time spent on rounds that moved something: headroom is what
 *               100 % CPU hides; '-' for an lcore with no poll loop)
 *   views       p  ports: per port and queue, RX/TX Mpps, Gbit/s (frame bytes × 8), drops/s
 *               r  rings: fill level (count / capacity, bar), high-water mark
 *               m  mempools: in use / size (bar), available, objects in lcore caches
 *               Tab cycles the views; q (or Ctrl-C) quits.
 *   events      the latest events of the instance (eal.events: processes, ports, links,
 *               owners), in the rows the view leaves
 *
 * Terminal: plain ANSI (alternate screen, cursor home, erase-line), every line cut to the
 * terminal width, at most its height rows (80×24 when unknown), so it works over ssh. The
 * terminal is restored (main screen, cursor shown, raw mode off) on q, on SIGINT/SIGTERM/
 * SIGHUP, on an error and when the instance goes away. Without a TTY (piped) or with --once
 * it prints ONE frame, plain text, rates over one interval, and exits.
 */
import { Eal, FILE_PREFIX_OPTION, HUGE_DIR_OPTION, UsageError, instancePrefix, parseArgs, type ProgramSpec } from '../../index.js';
import { instanceGone, rates, rememberInstance, si, snapshot, type Rates, type Snapshot } from '../proc-info/snapshot.js';

export const spec: ProgramSpec = {
  name: 'top',
  synopsis: '[--file-prefix NAME] [--huge-dir DIR] [-d SECONDS] [--once] [--view ports|rings|mempools]',
  eal: false,
  about: 'A live view of a running instance: CPU per process, Mpps and Gbit/s per port and queue, ring and pool fill.',
  options: [
    FILE_PREFIX_OPTION,
    HUGE_DIR_OPTION,
    { names: ['-d', '--delay', '--interval'], value: 'SECONDS', help: 'refresh interval (default 1; 0.1 to 60)' },
    { names: ['--once'], help: 'print one frame (rates over one interval) and exit; the default without a TTY' },
    { names: ['--view'], value: 'V', help: 'the view to start with; keys: p ports, r rings, m mempools, Tab next, q quit' },
  ],
};

type View = 'ports' | 'rings' | 'mempools';
/** Lines of latest events under the view, when the terminal has room. */
const EVENT_ROWS = 4;
const VIEWS: View[] = ['ports', 'rings', 'mempools'];

const ESC = '\x1b[';
const ENTER = `${ESC}?1049h${ESC}?25l${ESC}H${ESC}2J`;
const LEAVE = `${ESC}0m${ESC}?25h${ESC}?1049l`;

function bar(frac: number, width: number): string {
  const f = Math.max(0, Math.min(1, frac));
  const n = Math.round(f * width);
  return '[' + '#'.repeat(n) + '.'.repeat(width - n) + ']';
}

function fmt(v: number, digits = 2): string {
  return v < 0 ? '-' : v.toFixed(digits);
}

/** The frame as lines (no escapes), at most `rows` of at most `cols` characters. */
export function renderFrame(s: Snapshot, r: Rates | undefined, view: View, cols: number, rows: number, interactive: boolean): string[] {
  const L: string[] = [];
  const live = s.processes.filter((p) => p.alive);
  const clock = new Date(s.time).toTimeString().slice(0, 8);
  L.push(`mpdk top - '${s.filePrefix}' ${clock}  ${live.length} proc  ${s.ports.length} ports  ${s.rings.length} rings  ${s.mempools.length} pools${r ? `  (${r.seconds.toFixed(1)} s)` : ''}`);
  L.push(interactive ? `views: [p]orts [r]ings [m]empools  Tab next  [q]uit          view: ${view}` : `view: ${view}`);
  L.push('');
  L.push(`${'PID'.padEnd(8)} ${'TYPE'.padEnd(9)} ${'NAME'.padEnd(18)} ${'LCORES'.padEnd(10)} ${'CPU%'.padStart(6)} ${'BUSY%'.padStart(9)} ${'THR'.padStart(4)} ${'RSS MiB'.padStart(8)}`);
  const procRows = Math.max(1, Math.min(live.length, Math.floor((rows - 8) / 3)));
  for (const p of live.slice(0, procRows)) {
    const cpu = r?.cpu.get(p.pid) ?? -1;
    const busy = p.lcores.map((l) => fmt((r?.busy.get(l) ?? -1) * 100, 1)).join('/') || '-';
    L.push(`${String(p.pid).padEnd(8)} ${p.type.padEnd(9)} ${p.name.slice(0, 18).padEnd(18)} ${(p.lcores.join(',') || '-').slice(0, 10).padEnd(10)} ${fmt(cpu, 1).padStart(6)} ${busy.slice(0, 9).padStart(9)} ${String(p.threads).padStart(4)} ${(p.rssBytes / 1048576).toFixed(1).padStart(8)}`);
  }
  if (live.length > procRows) L.push(`  ... ${live.length - procRows} more`);
  if (live.length === 0) L.push('  (no live process)');
  L.push('');
  const room = rows - L.length - 2;
  const body: string[] = [];
  if (view === 'ports') {
    L.push(`${'PORT'.padEnd(14)} ${'Q'.padStart(3)} ${'RX Mpps'.padStart(8)} ${'RX Gb/s'.padStart(8)} ${'TX Mpps'.padStart(8)} ${'TX Gb/s'.padStart(8)} ${'drops/s'.padStart(8)} ${'RX total'.padStart(9)}`);
    for (const p of s.ports) {
      for (const q of [-1, ...p.stats.queues.map((x) => x.q)]) {
        const qr = r?.queues.find((x) => x.port === p.id && x.q === q);
        const tot = q < 0 ? p.stats.ipackets : (p.stats.queues.find((x) => x.q === q)?.ipackets ?? 0);
        const name = q < 0 ? `${p.id} ${p.name}`.slice(0, 14) : '';
        body.push(`${name.padEnd(14)} ${(q < 0 ? (p.state === 'started' ? 'all' : p.state.slice(0, 3)) : String(q)).padStart(3)} ${(qr ? (qr.rxPps / 1e6).toFixed(3) : '-').padStart(8)} ${(qr ? (qr.rxBps / 1e9).toFixed(3) : '-').padStart(8)} ${(qr ? (qr.txPps / 1e6).toFixed(3) : '-').padStart(8)} ${(qr ? (qr.txBps / 1e9).toFixed(3) : '-').padStart(8)} ${(qr ? si(qr.dropPps) : '-').padStart(8)} ${si(tot).padStart(9)}`);
      }
    }
    if (s.ports.length === 0) body.push('  (no ports)');
  } else if (view === 'rings') {
    L.push(`${'RING'.padEnd(24)} ${'COUNT'.padStart(7)} ${'CAP'.padStart(7)} ${'FILL'.padEnd(22)} ${'HIGH'.padStart(7)}`);
    for (const g of s.rings) {
      body.push(`${g.name.slice(0, 24).padEnd(24)} ${String(g.count).padStart(7)} ${String(g.capacity).padStart(7)} ${bar(g.capacity ? g.count / g.capacity : 0, 20)} ${String(g.highWater).padStart(7)}`);
    }
    if (s.rings.length === 0) body.push('  (no rings)');
  } else {
    L.push(`${'MEMPOOL'.padEnd(24)} ${'IN USE'.padStart(8)} ${'SIZE'.padStart(8)} ${'USE'.padEnd(22)} ${'AVAIL'.padStart(7)} ${'CACHED'.padStart(6)}`);
    for (const m of s.mempools) {
      body.push(`${m.name.slice(0, 24).padEnd(24)} ${String(m.inUse).padStart(8)} ${String(m.size).padStart(8)} ${bar(m.size ? m.inUse / m.size : 0, 20)} ${String(m.available).padStart(7)} ${String(m.inCaches).padStart(6)}`);
    }
    if (s.mempools.length === 0) body.push('  (no mempools)');
  }
  if (body.length > room) {
    L.push(...body.slice(0, Math.max(0, room - 1)), `  ... ${body.length - Math.max(0, room - 1)} more (a taller terminal shows them)`);
  } else L.push(...body);
  // The latest events, as they happen, in the rows left (at most EVENT_ROWS).
  const evRows = Math.min(EVENT_ROWS, s.events.length, rows - L.length - 2);
  if (evRows > 0) {
    L.push('', 'EVENTS');
    for (const e of s.events.slice(-evRows)) L.push(`${new Date(e.time).toTimeString().slice(0, 8)} ${e.type.padEnd(14)} ${e.text}`);
  }
  return L.slice(0, rows).map((l) => (l.length > cols ? l.slice(0, cols) : l));
}

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(spec, argv);
  const d = a.value('-d');
  const secs = d !== undefined ? Number(d) : 1;
  if (!Number.isFinite(secs) || secs < 0.1 || secs > 60) throw new UsageError(`invalid -d '${d}': a refresh interval in seconds from 0.1 to 60`);
  const v0 = a.value('--view');
  let view: View = 'ports';
  if (v0 !== undefined) {
    const found = VIEWS.find((v) => v === v0 || v[0] === v0);
    if (!found) throw new UsageError(`invalid --view '${v0}': ports, rings or mempools`);
    view = found;
  }
  const eal = Eal.observe(instancePrefix(a), { hugeDir: a.value('--huge-dir') }); // ENOENT, one line, when there is no such instance
  rememberInstance(eal);
  const interactive = !a.has('--once') && process.stdout.isTTY === true && process.stdin.isTTY === true;
  const ms = Math.round(secs * 1000);

  if (!interactive) {
    const s0 = snapshot(eal);
    await new Promise((res) => setTimeout(res, ms));
    const s1 = snapshot(eal);
    process.stdout.write(renderFrame(s1, rates(s0, s1), view, 80, 1000, false).join('\n') + '\n');
    return 0;
  }

  const out = process.stdout;
  const stdin = process.stdin;
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    try {
      stdin.setRawMode(false);
    } catch {
      /* stdin already closed */
    }
    stdin.pause();
    out.write(LEAVE);
  };
  process.on('exit', restore);
  out.write(ENTER);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');

  return new Promise<number>((resolve, reject) => {
    let prev = snapshot(eal);
    let last: Rates | undefined;
    let cur = prev;
    let timer: NodeJS.Timeout | undefined;
    const draw = (): void => {
      const lines = renderFrame(cur, last, view, out.columns || 80, out.rows || 24, true);
      out.write(`${ESC}H` + lines.map((l) => l + `${ESC}K`).join('\r\n') + `\r\n${ESC}J`);
    };
    const finish = (code: number, message?: string, err?: unknown): void => {
      if (timer) clearInterval(timer);
      eal.release(); // the snapshots keep nothing of the mapping
      stdin.off('data', onKey);
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, onSignal);
      restore();
      if (message) process.stderr.write(message + '\n');
      if (err !== undefined) reject(err);
      else resolve(code);
    };
    const onSignal = (sig: NodeJS.Signals): void => finish(sig === 'SIGINT' ? 130 : 143);
    const onKey = (k: string): void => {
      for (const c of k) {
        if (c === 'q' || c === 'Q' || c === '\x03') return finish(0);
        if (c === 'p' || c === 'P') view = 'ports';
        else if (c === 'r' || c === 'R') view = 'rings';
        else if (c === 'm' || c === 'M') view = 'mempools';
        else if (c === '\t') view = VIEWS[(VIEWS.indexOf(view) + 1) % VIEWS.length]!;
        else continue;
        draw();
      }
    };
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
    stdin.on('data', onKey);
    stdin.once('end', () => finish(0));
    out.on('resize', draw);
    draw();
    timer = setInterval(() => {
      try {
        if (instanceGone(eal)) return finish(0, `mpdk top: instance '${eal.filePrefix}' went away`);
        cur = snapshot(eal);
        last = rates(prev, cur);
        prev = cur;
        draw();
      } catch (e) {
        finish(1, undefined, e);
      }
    }, ms);
  });
}
