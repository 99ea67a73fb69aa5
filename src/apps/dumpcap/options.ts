/**
 * dumpcap's command line: DPDK 22.11's dpdk-dumpcap options (themselves Wireshark's
 * dumpcap's), plus Wireshark's -b ring buffer and -B buffer size, and tcpdump's -Q
 * direction. Everything is checked here, before the instance is touched.
 */
import { UsageError, parseArgs, type CaptureDir, type ProgramArgs, type ProgramSpec, FILE_PREFIX_OPTION, HUGE_DIR_OPTION } from '../../index.js';

/** Largest snap length (libpcap's MAXIMUM_SNAPLEN); -s 0 means it, as in tcpdump. */
export const MAX_SNAPLEN = 262144;
/** Default capture buffer, MiB (-B): split over the queues' rings, 1 MiB at least each. */
export const DEFAULT_BUFFER_MIB = 16;

export const spec: ProgramSpec = {
  name: 'dumpcap',
  synopsis: '[--file-prefix NAME] [-i PORT[:QUEUE] [-f FILTER] [-s SNAPLEN]]... [-w FILE] [options]',
  eal: false,
  about: `Capture what a running application's ports receive and transmit into a pcapng file
(or, with -P, a pcap file) that Wireshark, tshark and tcpdump read, as DPDK's dpdk-dumpcap does.
Each -i is one interface of the file (its name, direction and queue on every packet, its drop
counts at the end); -f and -s before any -i apply to every interface, after one to that one.
The application is never slowed down by a slow capture: when dumpcap cannot keep up, the
capture drops (counted, reported, written to the file), never the forwarding.`,
  options: [
    FILE_PREFIX_OPTION,
    HUGE_DIR_OPTION,
    { names: ['-i', '--interface'], value: 'PORT[:QUEUE]', repeat: true, help: 'port id (0) or name (net_ring0), optionally one queue; repeatable (default: the first port)' },
    { names: ['-f'], value: 'FILTER', repeat: true, help: "capture filter in libpcap's (tcpdump's) language, e.g. 'udp and port 53', run by the\nprocess that owns the queue before anything is copied" },
    { names: ['-s', '--snapshot-length'], value: 'SNAPLEN', repeat: true, help: `keep at most SNAPLEN bytes of each packet (default and 0: ${MAX_SNAPLEN})` },
    { names: ['-Q', '--direction'], value: 'DIR', help: "in (received), out (transmitted) or inout (default, as DPDK's RX and TX)" },
    { names: ['-p', '--no-promiscuous-mode'], help: "accepted for DPDK's command lines; no effect (mpdk's ports deliver every packet)" },
    { names: ['-D', '--list-interfaces'], help: 'print the ports (id. name) and exit' },
    { names: ['-d'], help: 'print the compiled BPF program of each filter (as tcpdump -d) and exit' },
    { names: ['-c'], value: 'COUNT', help: 'stop after COUNT packets' },
    {
      names: ['-a', '--autostop'], value: 'COND', repeat: true,
      help: 'stop when a condition is met (repeatable): duration:SEC, filesize:KB (the file in use),\npackets:N, files:N (with -b)',
    },
    {
      names: ['-b', '--ring-buffer'], value: 'COND', repeat: true,
      help: 'write a new file when a condition is met (repeatable): duration:SEC, filesize:KB, packets:N;\nfiles:N keeps only the last N. Files are FILE_NNNNN_YYYYmmddHHMMSS.EXT after -w FILE.EXT',
    },
    { names: ['-w', '--output-file'], value: 'FILE', help: 'file to write; - writes to stdout (| tshark -r -) (default: a new file in the temporary folder)' },
    { names: ['-g'], help: 'let the group read the file(s) (0640; default 0600)' },
    { names: ['-n'], help: 'write pcapng (the default)' },
    { names: ['-P'], help: 'write classic pcap (nanosecond timestamps) instead of pcapng' },
    { names: ['--capture-comment'], value: 'TEXT', help: "a comment in the file's section header (pcapng)" },
    {
      names: ['-B', '--buffer-size'], value: 'MIB',
      help: `capture buffer in the instance, split over the queues' rings this dumpcap creates (1 MiB at\nleast each): a power of two from 1 to 1024 (default ${DEFAULT_BUFFER_MIB}); a ring made by an earlier dumpcap keeps its size`,
    },
    { names: ['-q'], help: 'no packet count on stderr while capturing' },
    { names: ['-v', '--version'], help: 'print the version and exit' },
  ],
  notes: `Stops on -c / -a, Ctrl-C (SIGINT), SIGTERM, SIGHUP, the primary's exit, or the reader of -w -
closing the pipe; the file is then complete. mpdk's default snap length keeps whole packets
(DPDK's is 2176 bytes, its mbuf size).`,
};

/** One -i as given, with the -f and -s that apply to it. */
export interface IfaceRequest {
  /** As typed: '0', 'net_ring0', 'net_ring0:1'. */
  text: string;
  port: string;
  queue: number | undefined;
  filter: string | undefined;
  snaplen: number;
}

/** -a: when to stop. */
export interface StopAt {
  packets?: number;
  seconds?: number;
  fileBytes?: number;
  files?: number;
}

/** -b: when to start the next file, and how many to keep. */
export interface RingSpec {
  seconds?: number;
  fileBytes?: number;
  packets?: number;
  files?: number;
}

export interface DumpcapConfig {
  prefix: string | undefined;
  ifaces: IfaceRequest[];
  /** -f / -s given before any -i (the defaults for the first port when no -i is given). */
  defaultFilter: string | undefined;
  defaultSnaplen: number;
  dirs: CaptureDir[];
  list: boolean;
  dumpBpf: boolean;
  stop: StopAt;
  ring: RingSpec | undefined;
  output: string | undefined;
  groupRead: boolean;
  pcapng: boolean;
  comment: string | undefined;
  bufferBytes: number;
  quiet: boolean;
  version: boolean;
}

function positive(v: string, what: string, integer: boolean): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`invalid ${what} '${v}': expected a positive ${integer ? 'whole number' : 'number'}`);
  }
  return n;
}

function parseSnaplen(v: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`invalid -s '${v}': expected a whole number of bytes from 1 to ${MAX_SNAPLEN} (0: ${MAX_SNAPLEN})`);
  const n = Number(v);
  if (n > MAX_SNAPLEN) throw new UsageError(`invalid -s ${n}: at most ${MAX_SNAPLEN}`);
  return n === 0 ? MAX_SNAPLEN : n;
}

/** `key:value` conditions of -a / -b; `allowed` maps each key to whether its value is a whole number. */
function conditions(list: readonly string[], opt: string, allowed: Record<string, boolean>): Map<string, number> {
  const out = new Map<string, number>();
  const names = Object.keys(allowed).map((k) => `${k}:N`).join(', ');
  for (const c of list) {
    const i = c.indexOf(':');
    if (i < 0) throw new UsageError(`invalid ${opt} '${c}': missing colon; use ${names}`);
    const key = c.slice(0, i);
    if (!(key in allowed)) throw new UsageError(`invalid ${opt} '${c}': unknown condition '${key}'; use ${names}`);
    out.set(key, positive(c.slice(i + 1), `${opt} ${key}`, allowed[key]!));
  }
  return out;
}

function parseIface(text: string): { port: string; queue: number | undefined } {
  const m = /^([A-Za-z0-9_.-]+?)(?::(\d+))?$/.exec(text);
  if (!m) throw new UsageError(`invalid -i '${text}': use PORT or PORT:QUEUE, PORT being an id (0) or a name (net_ring0)`);
  return { port: m[1]!, queue: m[2] === undefined ? undefined : Number(m[2]) };
}

/** Parse and check dumpcap's command line; nothing is touched. */
export function parseDumpcap(argv: readonly string[]): { args: ProgramArgs; config: DumpcapConfig } {
  const a = parseArgs(spec, argv);
  let defaultFilter: string | undefined;
  let defaultSnaplen = MAX_SNAPLEN;
  const ifaces: IfaceRequest[] = [];
  for (const { name, value } of a.sequence(['-i', '-f', '-s'])) {
    const last = ifaces.at(-1);
    if (name === '-i') {
      ifaces.push({ text: value, ...parseIface(value), filter: defaultFilter, snaplen: defaultSnaplen });
    } else if (name === '-f') {
      if (last) last.filter = value;
      else defaultFilter = value;
    } else {
      const s = parseSnaplen(value);
      if (last) last.snaplen = s;
      else defaultSnaplen = s;
    }
  }
  const q = a.value('-Q') ?? 'inout';
  const dirs: CaptureDir[] | undefined = ({ in: ['rx'], out: ['tx'], inout: ['rx', 'tx'] } as Record<string, CaptureDir[]>)[q];
  if (!dirs) throw new UsageError(`invalid -Q '${q}': use in, out or inout`);

  const stopC = conditions(a.all('-a'), '-a', { duration: false, filesize: true, packets: true, files: true });
  const stop: StopAt = {};
  const count = a.value('-c') === undefined ? undefined : positive(a.value('-c')!, '-c', true);
  const packets = [count, stopC.get('packets')].filter((x): x is number => x !== undefined);
  if (packets.length) stop.packets = Math.min(...packets);
  if (stopC.has('duration')) stop.seconds = stopC.get('duration');
  if (stopC.has('filesize')) stop.fileBytes = stopC.get('filesize')! * 1024;
  if (stopC.has('files')) stop.files = stopC.get('files');

  const output = a.value('-w');
  let ring: RingSpec | undefined;
  const ringC = conditions(a.all('-b'), '-b', { duration: false, filesize: true, packets: true, files: true });
  if (ringC.size > 0) {
    ring = { seconds: ringC.get('duration'), fileBytes: ringC.has('filesize') ? ringC.get('filesize')! * 1024 : undefined, packets: ringC.get('packets'), files: ringC.get('files') };
    if (ring.seconds === undefined && ring.fileBytes === undefined && ring.packets === undefined) {
      throw new UsageError('-b files:N needs a condition to start a new file: add -b duration:SEC, -b filesize:KB or -b packets:N');
    }
    if (output === undefined || output === '-') throw new UsageError('-b writes several files: give their name with -w FILE (not stdout)');
  }
  if (stop.files !== undefined && !ring) throw new UsageError('-a files:N counts the files of -b: give -b too');
  if (a.has('-n') && a.has('-P')) throw new UsageError('-n (pcapng) and -P (pcap) contradict each other: give one');

  let bufferBytes = DEFAULT_BUFFER_MIB << 20;
  const b = a.int('-B', 1, 1024, '-B');
  if (b !== undefined) {
    if ((b & (b - 1)) !== 0) throw new UsageError(`invalid -B ${b}: a power of two (1, 2, 4, ... 1024) MiB`);
    bufferBytes = b << 20;
  }
  return {
    args: a,
    config: {
      prefix: a.value('--file-prefix'),
      ifaces, defaultFilter, defaultSnaplen, dirs,
      list: a.has('-D'),
      dumpBpf: a.has('-d'),
      stop, ring, output,
      groupRead: a.has('-g'),
      pcapng: !a.has('-P'),
      comment: a.value('--capture-comment'),
      bufferBytes,
      quiet: a.has('-q'),
      version: a.has('-v'),
    },
  };
}
