/**
 * `mpdk dumpcap --file-prefix X -i PORT[:QUEUE] -w FILE.pcap [-c COUNT] [--duration S] [--tx]`
 * (DPDK's dpdk-dumpcap): capture what a running application receives (and, with --tx,
 * transmits) on a port into a pcap file that tcpdump / tshark read.
 *
 * How: dumpcap attaches as a secondary (proc-info/attach.ts: the highest free lcore, unpinned)
 * and, for every selected queue, claims that queue's capture ring and arms it
 * (ethdev/capture.ts: CaptureReader). The application's queue owners copy each burst into
 * the ring (one plain load per burst when nobody captures); dumpcap drains the rings into a
 * PcapWriter every few milliseconds. When dumpcap falls behind, the owners drop from the
 * capture (never from forwarding) and count it; the summary reports those drops and the
 * time the application spent copying. Records are written queue after queue in each drain
 * round (in order within a queue, not merged by timestamp across queues).
 *
 * Stops on -c COUNT packets written, --duration seconds, SIGINT/SIGTERM/SIGHUP, the
 * primary's exit, or the instance going away; then disarms, flushes the file and leaves.
 * The capture rings stay in the instance for the next dumpcap (capture.ts explains why).
 */
import {
  CaptureReader, EthDev, FILE_PREFIX_OPTION, MpdkError, PcapWriter, UsageError, instancePrefix, parseArgs, type CaptureDir, type Eal, type ProgramSpec,
} from '../../index.js';
import { attachSecondary } from '../proc-info/attach.js';

export const spec: ProgramSpec = {
  name: 'dumpcap',
  synopsis: '[--file-prefix NAME] -i PORT[:QUEUE] -w FILE.pcap [options]',
  eal: false,
  about: 'Capture what a running application receives (and, with --tx, transmits) on a port into a pcap file.',
  options: [
    FILE_PREFIX_OPTION,
    { names: ['-i'], value: 'PORT[:QUEUE]', repeat: true, help: 'port id or name (net_ring0), optionally one queue (default: all); repeatable' },
    { names: ['-w'], value: 'FILE', help: 'the pcap file to write (created or truncated); - writes to stdout (| tcpdump -r -)' },
    { names: ['-c'], value: 'COUNT', help: 'stop after COUNT packets' },
    { names: ['--duration'], value: 'S', help: 'stop after S seconds (default: until Ctrl-C)' },
    { names: ['--tx'], help: 'capture what the port transmits too (TX queues, before the driver takes them)' },
    { names: ['-s'], value: 'SNAPLEN', help: 'keep at most SNAPLEN bytes of each packet (default 65535)' },
    {
      names: ['--buffer'], value: 'KIB',
      help: "size of a queue's capture ring when this creates it: a power of two from 128 to 1048576\n(default 1024); a ring made by an earlier dumpcap keeps its size",
    },
    { names: ['-q'], help: 'no progress line on stderr' },
  ],
};

const IDLE_MS = 5;

interface Target {
  port: number;
  queue: number | undefined;
}

function parseIface(spec: string): { port: string; queue: number | undefined } {
  const m = /^([A-Za-z0-9_]+)(?::(\d+))?$/.exec(spec);
  if (!m) throw new UsageError(`invalid -i '${spec}': use PORT or PORT:QUEUE, PORT being an id (0) or a name (net_ring0)`);
  return { port: m[1]!, queue: m[2] === undefined ? undefined : Number(m[2]) };
}

function positiveNumber(v: string | undefined, opt: string, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new UsageError(`invalid ${opt} '${v}': expected a positive ${integer ? 'integer' : 'number'}`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(spec, argv);
  const ifaces = a.all('-i').map(parseIface);
  if (ifaces.length === 0) throw new UsageError(`-i PORT[:QUEUE] is required: the port to capture (see 'mpdk dumpcap --help')`);
  const file = a.value('-w');
  if (file === undefined) throw new UsageError(`-w FILE.pcap is required: the file to write, or - for stdout (see 'mpdk dumpcap --help')`);
  const count = positiveNumber(a.value('-c'), '-c', true);
  const duration = positiveNumber(a.value('--duration'), '--duration', false);
  const snaplen = positiveNumber(a.value('-s'), '-s', true) ?? 65535;
  if (snaplen > 65535) throw new UsageError(`invalid -s '${snaplen}': at most 65535`);
  const bufKib = positiveNumber(a.value('--buffer'), '--buffer', true) ?? 1024;
  const quiet = a.has('-q');
  const dirs: CaptureDir[] = a.has('--tx') ? ['rx', 'tx'] : ['rx'];

  const eal = attachSecondary(instancePrefix(a), 'dumpcap'); // ENOENT, one line, when there is no instance
  const readers: CaptureReader[] = [];
  let writer: PcapWriter | undefined;
  const cleanup = (): void => {
    for (const r of readers) r.close();
    writer?.close();
    writer = undefined;
    eal.close();
  };
  process.once('exit', cleanup);
  try {
    const dev = EthDev.attach(eal);
    const targets: Target[] = ifaces.map((i) => ({ port: /^\d+$/.test(i.port) ? Number(i.port) : dev.portId(i.port), queue: i.queue }));
    for (const t of targets) {
      const info = dev.info(t.port); // ENODEV naming the ports
      if (info.state !== 'started') throw new MpdkError('ENODEV', `port ${t.port} (${info.name}) is ${info.state}, not started: nothing flows through it to capture`);
      for (const dir of dirs) {
        const nb = dir === 'rx' ? info.nbRx : info.nbTx;
        const qs = t.queue === undefined ? Array.from({ length: nb }, (_, q) => q) : [t.queue];
        for (const q of qs) readers.push(CaptureReader.open(eal, t.port, q, dir, { snaplen, ringBytes: bufKib * 1024 }));
      }
    }
    writer = PcapWriter.open(file === '-' ? '/dev/stdout' : file, { snaplen });
  } catch (e) {
    process.off('exit', cleanup);
    cleanup();
    throw e;
  }
  const names = readers.map((r) => `${r.port}:${r.dir}${r.q}`).join(' ');
  process.stderr.write(`dumpcap: capturing on ${names} of instance '${eal.filePrefix}' into ${file === '-' ? 'stdout' : file}${count ? `, ${count} packets` : ''}${duration ? `, ${duration} s` : ''}\n`);
  return capture(eal, readers, writer, count, duration, quiet, eal.filePrefix, cleanup);
}

function capture(eal: Eal, readers: CaptureReader[], writer: PcapWriter, count: number | undefined, duration: number | undefined, quiet: boolean, prefix: string, cleanup: () => void): Promise<number> {
  const max = count ?? Infinity;
  const start = Date.now();
  const end = duration !== undefined ? start + duration * 1000 : Infinity;
  let written = 0;
  let reason = '';
  let lastProgress = start;
  const sink = (u8: Uint8Array, off: number, caplen: number, len: number, sec: number, usec: number): void => {
    writer.write(u8, off, caplen, len, sec, usec);
    written++;
  };
  const stop = (why: string): void => {
    if (!reason) reason = why;
  };
  const onSignal = (sig: NodeJS.Signals): void => stop(`${sig}`);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  eal.onPrimaryExit((pid) => stop(`the primary (pid ${pid}) exited`));

  return new Promise<number>((resolve) => {
    const round = (): void => {
      let got = 0;
      for (const r of readers) {
        if (written >= max) break;
        got += r.drain(sink, max - written);
      }
      const now = Date.now();
      if (written >= max) stop(`${written} packets`);
      else if (now >= end) stop(`${duration} s`);
      if (!quiet && now - lastProgress >= 1000 && !reason) {
        lastProgress = now;
        process.stderr.write(`dumpcap: ${written} packets\n`);
      }
      if (!reason) {
        if (got > 0) setImmediate(round);
        else setTimeout(round, IDLE_MS);
        return;
      }
      // last round: what the taps already copied, within the count
      for (const r of readers) if (written < max) r.drain(sink, max - written);
      let captured = 0;
      let drops = 0;
      let tapNs = 0;
      for (const r of readers) {
        const c = r.counters();
        captured += c.packets;
        drops += c.drops;
        tapNs += c.tapNs;
      }
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, onSignal);
      process.off('exit', cleanup);
      cleanup();
      process.stderr.write(
        `dumpcap: stopped (${reason}) after ${((Date.now() - start) / 1000).toFixed(1)} s: ${written} packets written, ${captured} copied by the application, ` +
          `${drops} dropped (capture ring full); tap cost ${(tapNs / 1e6).toFixed(2)} ms${captured ? ` (${Math.round(tapNs / captured)} ns/packet)` : ''} of instance '${prefix}'\n`,
      );
      resolve(0);
    };
    setImmediate(round);
  });
}
