/**
 * libpcap's filter compiler through koffi: tcpdump's expression language turned into a
 * classic BPF program (net/bpf.ts runs it), exactly as tcpdump and DPDK's dpdk-dumpcap
 * compile it. Loaded on first use from libpcap.so.0.8 (Debian's libpcap0.8, present wherever
 * tcpdump or tshark is), so nothing else of mpdk needs libpcap.
 *
 *   pcapCompile(expr, snaplen)   pcap_open_dead(linktype, snaplen) + pcap_compile(optimize 1,
 *                                netmask 0: tcpdump -r's) → the instructions, copied out of
 *                                libpcap's memory, then pcap_freecode + pcap_close; or the
 *                                error pcap_geterr gives
 *   pcapImage(program)           bpf_image per instruction: what `tcpdump -d` prints
 */
import { koffi } from './ffi.js';

const NAMES = ['libpcap.so.0.8', 'libpcap.so.1', 'libpcap.so'];

interface Lib {
  openDead: (linktype: number, snaplen: number) => unknown;
  compile: (p: unknown, fp: { bf_len?: number; bf_insns?: unknown }, expr: string, optimize: number, netmask: number) => number;
  geterr: (p: unknown) => string;
  freecode: (fp: unknown) => void;
  close: (p: unknown) => void;
  image: (insn: unknown, n: number) => string;
}

let lib: Lib | undefined;
let loadError = '';

function load(): Lib | undefined {
  if (lib || loadError) return lib;
  for (const name of NAMES) {
    let l: ReturnType<typeof koffi.load>;
    try {
      l = koffi.load(name);
    } catch {
      continue;
    }
    koffi.struct('mpdk_bpf_program', { bf_len: 'uint32_t', bf_insns: 'void *' });
    lib = {
      openDead: l.func('void *pcap_open_dead(int linktype, int snaplen)'),
      compile: l.func('int pcap_compile(void *p, _Out_ mpdk_bpf_program *fp, const char *str, int optimize, uint32_t netmask)'),
      geterr: l.func('const char *pcap_geterr(void *p)'),
      freecode: l.func('void pcap_freecode(mpdk_bpf_program *fp)'),
      close: l.func('void pcap_close(void *p)'),
      image: l.func('const char *bpf_image(const void *insn, int n)'),
    };
    return lib;
  }
  loadError = `libpcap (${NAMES[0]}) is not installed: capture filters are compiled by libpcap, as tcpdump's are (Debian: apt-get install libpcap0.8)`;
  return undefined;
}

/** Why libpcap cannot be used, or '' when it can. */
export function libpcapMissing(): string {
  load();
  return lib ? '' : loadError;
}

/**
 * Compile `expr` for link type `linktype` (1 = Ethernet) and `snaplen`. Returns the program
 * (8-byte struct bpf_insn each, in this host's byte order) or the compiler's message.
 */
export function pcapCompile(expr: string, snaplen: number, linktype = 1): { program: Uint8Array } | { error: string } {
  const l = load();
  if (!l) return { error: loadError };
  const p = l.openDead(linktype, snaplen);
  if (!p) return { error: 'pcap_open_dead failed' };
  try {
    const fp: { bf_len?: number; bf_insns?: unknown } = {};
    if (l.compile(p, fp, expr, 1, 0) !== 0) return { error: l.geterr(p) };
    try {
      const n = fp.bf_len ?? 0;
      const program = n === 0 ? new Uint8Array(0) : new Uint8Array(koffi.view(fp.bf_insns as bigint, n * 8) as ArrayBuffer).slice();
      return { program };
    } finally {
      l.freecode(fp);
    }
  } finally {
    l.close(p);
  }
}

/** Each instruction as libpcap prints it (`(000) ldh      [12]`), as `tcpdump -d` does. */
export function pcapImage(program: Uint8Array): string[] {
  const l = load();
  if (!l) throw new Error(loadError);
  const n = program.byteLength >>> 3;
  const mem = koffi.alloc('uint8_t', Math.max(8, program.byteLength));
  try {
    new Uint8Array(koffi.view(mem, Math.max(8, program.byteLength)) as ArrayBuffer).set(program);
    const base = koffi.address(mem) as bigint;
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(l.image(base + BigInt(i * 8), i));
    return out;
  } finally {
    koffi.free(mem);
  }
}
