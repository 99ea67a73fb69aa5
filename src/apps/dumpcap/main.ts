/**
 * `mpdk dumpcap` (DPDK's dpdk-dumpcap): capture what a running application's ports receive
 * and transmit into a pcapng file (or pcap with -P) that tshark, Wireshark and tcpdump read.
 *
 *   mpdk dumpcap --file-prefix X -i 0 -f 'udp and port 53' -w dns.pcapng -a duration:10
 *
 * How: dumpcap attaches as a secondary (proc-info/attach.ts: the highest free lcore,
 * unpinned). For every selected queue and direction it claims that queue's capture ring and
 * arms it with the interface's snap length and filter (ethdev/capture.ts: CaptureReader;
 * the filter compiled by libpcap here, before anything attaches, and run by the queue's
 * owner on each packet before anything is copied). The owners copy what the filter accepts
 * into the rings; dumpcap drains them into the output (output.ts) as fast as they fill,
 * sleeping a few ms when they are empty. When dumpcap falls behind, the owners drop from
 * the capture (never from forwarding) and count it; each interface's statistics block and
 * the summary report the drops and the time the application spent capturing. Records are
 * written queue after queue in each drain round (in order within a queue, not merged by
 * timestamp across queues).
 *
 * Stops on -c / -a, SIGINT/SIGTERM/SIGHUP, the primary's exit, the instance going away, or
 * the reader of -w - closing the pipe; then disarms, completes the file and leaves (exit 0).
 * A ring that turns out damaged, a filter the application refused, or a file that cannot be
 * written stops it too, with one line saying so (exit 1). The capture rings stay in the
 * instance for the next dumpcap (capture.ts explains why).
 *
 * Refused before anything is touched (exit 2): a bad option or condition, an expression
 * libpcap refuses (its message). At run time (exit 1): no instance, no such port or queue,
 * a queue another dumpcap captures.
 */
import os from 'node:os';
import {
  CaptureReader, EthDev, MPDK_VERSION, MpdkError, UsageError, compileFilter, filterImage, instancePrefix, isMpdkError, type CaptureCounters,
  type CaptureSink, type Eal, type PcapngInterface, type PcapngStats,
} from '../../index.js';
import { attachSecondary } from '../proc-info/attach.js';
import { CaptureOutput, defaultFileName, nowNs } from './output.js';
import { parseDumpcap, spec, type DumpcapConfig, type IfaceRequest } from './options.js';
import { Progress } from './progress.js';

export { spec };

/** Sleep between rounds that found nothing. */
const IDLE_MS = 2;
/** What was drained reaches the file (or the pipe's reader) at least this often. */
const FLUSH_MS = 10;
const VERSION = `dumpcap 1.0 (mpdk ${MPDK_VERSION})`;

/** One -i resolved against the instance: its readers and its file interface. */
interface Iface {
  req: IfaceRequest;
  port: number;
  name: string;
  program: Uint8Array | undefined;
  readers: CaptureReader[];
}

/** Compile every interface's filter (and the default's, for -d): refusals before anything attaches. */
function compileAll(c: DumpcapConfig, reqs: IfaceRequest[]): Map<IfaceRequest, Uint8Array | undefined> {
  const out = new Map<IfaceRequest, Uint8Array | undefined>();
  for (const r of reqs) {
    if (r.filter === undefined && !c.dumpBpf) {
      out.set(r, undefined);
      continue;
    }
    try {
      out.set(r, compileFilter(r.filter ?? '', r.snaplen));
    } catch (e) {
      if (isMpdkError(e, 'EINVAL')) throw new UsageError(`${e.message}${reqs.length > 1 ? ` (for -i ${r.text})` : ''}`);
      throw e;
    }
  }
  return out;
}

export async function main(argv: string[]): Promise<number> {
  const { args, config: c } = parseDumpcap(argv);
  if (c.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  // Without -i: the first port, with the -f / -s given (as DPDK's set_default_interface).
  const reqs: IfaceRequest[] = c.ifaces.length > 0 ? c.ifaces : [{ text: '0', port: '0', queue: undefined, filter: c.defaultFilter, snaplen: c.defaultSnaplen }];
  const programs = compileAll(c, reqs);
  if (c.dumpBpf) {
    for (const r of reqs) {
      const p = programs.get(r)!;
      process.stdout.write(`${reqs.length > 1 ? `-i ${r.text}: ` : ''}cBPF program (${p.byteLength / 8} insns)\n${filterImage(p).join('\n')}\n`);
    }
    return 0;
  }

  const eal = attachSecondary(instancePrefix(args), 'dumpcap', args.value('--huge-dir')); // ENOENT, one line, when there is no instance
  const ifaces: Iface[] = [];
  let out: CaptureOutput | undefined;
  const cleanup = (): void => {
    for (const i of ifaces) for (const r of i.readers) r.close();
    try {
      out?.close();
    } catch {
      /* exiting: the file is as complete as it can be */
    }
    out = undefined;
    eal.close();
  };
  process.once('exit', cleanup);
  try {
    const dev = EthDev.attach(eal);
    if (c.list) {
      for (const p of dev.portIds()) process.stdout.write(`${p}. ${dev.info(p).name}\n`);
      process.off('exit', cleanup);
      cleanup();
      return 0;
    }
    // -B is the whole capture's buffer, split over the rings this dumpcap makes (1 MiB at least each).
    const resolved = reqs.map((req) => {
      const port = /^\d+$/.test(req.port) ? Number(req.port) : dev.portId(req.port);
      const info = dev.info(port); // ENODEV naming the ports
      const nq = c.dirs.reduce((n, d) => n + (req.queue !== undefined ? 1 : d === 'rx' ? info.nbRx : info.nbTx), 0);
      return { req, port, info, nq };
    });
    const rings = resolved.reduce((n, r) => n + r.nq, 0);
    const ringBytes = Math.max(1 << 20, 2 ** Math.floor(Math.log2(c.bufferBytes / Math.max(rings, 1))));
    for (const { req, port, info } of resolved) {
      if (info.state !== 'started') throw new MpdkError('ENODEV', `port ${port} (${info.name}) is ${info.state}, not started: nothing flows through it to capture`);
      const iface: Iface = { req, port, name: req.queue === undefined ? info.name : `${info.name}:${req.queue}`, program: programs.get(req), readers: [] };
      ifaces.push(iface);
      for (const dir of c.dirs) {
        const nb = dir === 'rx' ? info.nbRx : info.nbTx;
        const qs = req.queue === undefined ? Array.from({ length: nb }, (_, q) => q) : [req.queue];
        for (const q of qs) iface.readers.push(CaptureReader.open(eal, port, q, dir, { snaplen: req.snaplen, ringBytes, filter: iface.program }));
      }
    }
    const first = ifaces[0]!;
    const file = c.output ?? defaultFileName(os.tmpdir(), first.port, first.name, c.pcapng);
    const started = nowNs();
    const fileIfaces: PcapngInterface[] = ifaces.map((i) => ({
      name: i.name,
      description: `mpdk port ${i.port}${i.req.queue === undefined ? '' : ` queue ${i.req.queue}`} (${dev.info(i.port).driver}) of instance '${eal.filePrefix}'`,
      snaplen: i.req.snaplen,
      filter: i.req.filter,
    }));
    out = new CaptureOutput({
      file, pcapng: c.pcapng, mode: c.groupRead ? 0o640 : 0o600, ifaces: fileIfaces, ring: c.ring,
      section: { hardware: os.cpus()[0]?.model, os: `${os.type()} ${os.release()}`, userappl: VERSION, comment: c.comment },
      stats: (k) => ifaceStats(ifaces[k]!, started),
    });
  } catch (e) {
    process.off('exit', cleanup);
    cleanup();
    throw e;
  }
  if (c.output !== '-') process.stderr.write(`File: ${out.where}\n`);
  const names = ifaces.map((i) => `'${i.name}'`);
  process.stderr.write(`Capturing on ${names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : names[0]} (${c.dirs.map((d) => d.toUpperCase()).join('+')}) of instance '${eal.filePrefix}'\n`);
  const o = out;
  const code = await capture(eal, c, ifaces, o);
  process.off('exit', cleanup);
  cleanup();
  return code;
}

function sum(ifaces: readonly Iface[]): CaptureCounters {
  const t: CaptureCounters = { packets: 0, drops: 0, filtered: 0, bytes: 0, tapNs: 0 };
  for (const i of ifaces) {
    for (const r of i.readers) {
      const c = r.counters();
      t.packets += c.packets;
      t.drops += c.drops;
      t.filtered += c.filtered;
      t.bytes += c.bytes;
      t.tapNs += c.tapNs;
    }
  }
  return t;
}

/** An interface's statistics block: what it saw (accepted, filtered out, dropped) since the start. */
function ifaceStats(i: Iface, start: [number, number]): PcapngStats {
  const c = sum([i]);
  return { start, end: nowNs(), ifRecv: c.packets + c.filtered + c.drops, ifDrop: c.drops, filterAccept: c.packets + c.drops };
}

function capture(eal: Eal, c: DumpcapConfig, ifaces: Iface[], out: CaptureOutput): Promise<number> {
  const max = c.stop.packets ?? Infinity;
  const start = Date.now();
  const end = c.stop.seconds !== undefined ? start + c.stop.seconds * 1000 : Infinity;
  const progress = new Progress(c.quiet);
  let lastFlush = start;
  let unflushed = 0;
  let reason = '';
  let failure: MpdkError | undefined;
  const stop = (why: string): void => {
    if (!reason) reason = why;
  };
  const onSignal = (sig: NodeJS.Signals): void => stop(`${sig}`);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  eal.onPrimaryExit((pid) => stop(`the primary (pid ${pid}) exited`));
  // One sink per reader, made once: the interface, direction and queue it writes.
  const drains: { r: CaptureReader; sink: CaptureSink }[] = [];
  ifaces.forEach((iface, k) => {
    for (const r of iface.readers) {
      const rx = r.dir === 'rx';
      const q = r.q;
      drains.push({ r, sink: (u8, off, caplen, len, sec, ns) => out.packet(k, rx, q, u8, off, caplen, len, sec, ns) });
    }
  });

  /** Drain every ring once (within the packet limit); the records drained. */
  const drainAll = (): number => {
    let got = 0;
    for (const d of drains) {
      if (out.written >= max) break;
      got += d.r.drain(d.sink, max - out.written);
    }
    return got;
  };

  return new Promise<number>((resolve) => {
    const finish = (): void => {
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, onSignal);
      const t = sum(ifaces);
      progress.done(out.written);
      for (const i of ifaces) {
        // As Wireshark's dumpcap and DPDK's: received excludes the dropped; the share received of
        // all seen, and 0.0% when none was seen (Wireshark's; DPDK 22.11 prints 1.0 there).
        const s = sum([i]);
        const recv = s.packets + s.filtered;
        process.stderr.write(`Packets received/dropped on interface '${i.name}': ${recv}/${s.drops} (${recv ? ((100 * recv) / (recv + s.drops)).toFixed(1) : '0.0'}%)\n`);
      }
      process.stderr.write(
        `dumpcap: stopped (${reason}) after ${((Date.now() - start) / 1000).toFixed(1)} s: ${out.written} packets written to ${out.filesMade} file${out.filesMade === 1 ? '' : 's'}, ` +
          `${t.packets} copied by the application, ${t.drops} dropped (capture ring full), ${t.filtered} filtered out; ` +
          `tap cost ${(t.tapNs / 1e6).toFixed(2)} ms${t.packets + t.filtered ? ` (${Math.round(t.tapNs / (t.packets + t.filtered + t.drops))} ns/packet)` : ''} of instance '${eal.filePrefix}'\n`,
      );
      if (failure) {
        process.stderr.write(`dumpcap: ${failure.message}\n`);
        resolve(1);
      } else resolve(0);
    };

    const round = (): void => {
      let got = 0;
      try {
        got = drainAll();
        unflushed += got;
        const now = Date.now();
        if (unflushed > 0 && now - lastFlush >= FLUSH_MS) {
          out.flush();
          unflushed = 0;
          lastFlush = now;
        }
        out.tick(now);
        if (out.written >= max) stop(`${out.written} packets`);
        else if (now >= end) stop(`${c.stop.seconds} s`);
        else if (c.stop.fileBytes !== undefined && out.fileBytes >= c.stop.fileBytes) stop(`file size ${c.stop.fileBytes / 1024} KB`);
        else if (c.stop.files !== undefined && out.filesMade > c.stop.files) stop(`${c.stop.files} files`);
        for (const d of drains) {
          const why = d.r.stopped();
          if (why) {
            failure ??= new MpdkError('EIO', why);
            stop('capture stopped');
          }
        }
        if (!reason) progress.update(out.written, now);
      } catch (e) {
        if (isMpdkError(e, 'EPIPE')) {
          out.abandon();
          stop('the reader closed the pipe');
        } else if (e instanceof MpdkError) {
          failure = e;
          stop('an error');
        } else throw e;
      }
      if (!reason) {
        if (got > 0) setImmediate(round);
        else setTimeout(round, IDLE_MS);
        return;
      }
      // last round: stop the taps, then write what they copied, within the count
      for (const d of drains) d.r.disarm();
      try {
        if (!failure && reason !== 'the reader closed the pipe') {
          drainAll();
          out.flush();
        }
      } catch (e) {
        if (isMpdkError(e, 'EPIPE')) out.abandon();
        else if (e instanceof MpdkError) failure ??= e;
        else throw e;
      }
      finish();
    };
    setImmediate(round);
  });
}
