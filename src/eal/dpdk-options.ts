/**
 * Every EAL option of DPDK 22.11 (`dpdk-testpmd --help`, linux_eal_parameters.rst) and what
 * mpdk does with it, so that DPDK's command lines run as written:
 *
 *   works     parsed by options.ts and applied (lcores, memory, instance, devices, logging)
 *   none      accepted, its value checked as DPDK checks it, and without effect here: the
 *             reason is DPDK hardware mpdk does not have (PCI, IOVA, VFIO, hugepage
 *             mechanics, TSC) or a DPDK subsystem with no counterpart (trace, SIMD paths)
 *   refused   one line saying why it cannot apply (`-d`: no shared-object drivers)
 *
 * docs/eal-options.md is this table for people; test/eal-options.test.ts runs every row.
 */

/**
 * What mpdk does with a DPDK EAL option: it works, it is accepted without effect, or it is refused in one line.
 */
export type OptionEffect = 'works' | 'none' | 'refused';

/**
 * One option of DPDK 22.11's EAL (`DPDK_EAL_OPTIONS`): its spellings, its argument, and what mpdk does with it.
 */
export interface DpdkOption {
  /** Spellings, the DPDK-documented one first. */
  names: readonly string[];
  /** 'required': a value (`--x V`, `--x=V`, `-xV`); 'optional': only as `--x=V`; 'none': a flag. */
  arg: 'none' | 'required' | 'optional';
  /** What mpdk does with it. */
  effect: OptionEffect;
  /** works: what it does; none: why it has no effect; refused: why it cannot apply. */
  what: string;
  /** A value DPDK would refuse, with why (null: fine). Run for `none` options too. */
  check?: (v: string) => string | null;
}

const oneOf = (...ok: string[]) => (v: string): string | null => (ok.includes(v) ? null : `expected ${ok.join(', ')}`);
const wholeNumber = (v: string): string | null => (/^\d+$/.test(v) ? null : 'expected a whole number');
const SYSLOG = ['auth', 'cron', 'daemon', 'ftp', 'kern', 'lpr', 'mail', 'news', 'syslog', 'user', 'uucp', ...Array.from({ length: 8 }, (_, i) => `local${i}`)];

/** DPDK 22.11's EAL options, in its --help order. */
export const DPDK_EAL_OPTIONS: readonly DpdkOption[] = [
  { names: ['-c'], arg: 'required', effect: 'works', what: 'lcores as a hexadecimal mask' },
  { names: ['-l'], arg: 'required', effect: 'works', what: 'lcores as a list (0-3,5); each runs on the CPU of its id, ids beyond the CPUs unpinned' },
  { names: ['--lcores'], arg: 'required', effect: 'works', what: "lcores mapped to CPU sets, DPDK's syntax: '0@0,1@(2-3),(4-5)@6' (pinning follows it)" },
  { names: ['-s'], arg: 'required', effect: 'refused', what: "mpdk has no service cores (DPDK's rte_service): give those lcores to the program with -l" },
  { names: ['-S'], arg: 'required', effect: 'refused', what: "mpdk has no service cores (DPDK's rte_service): give those lcores to the program with -l" },
  { names: ['--main-lcore', '--master-lcore'], arg: 'required', effect: 'works', what: 'the lcore of the main thread' },
  { names: ['--mbuf-pool-ops-name'], arg: 'required', effect: 'none', what: 'mpdk has one mempool implementation (a ring with per-lcore caches, as ring_mp_mc)' },
  { names: ['-n'], arg: 'required', effect: 'none', what: 'memory channels tune DPDK\'s object placement in hugepages; mpdk lays out its own region', check: wholeNumber },
  { names: ['-m'], arg: 'required', effect: 'works', what: 'size of the shared region in MiB (the primary\'s)' },
  { names: ['-r'], arg: 'required', effect: 'none', what: 'memory ranks tune DPDK\'s object placement; mpdk lays out its own region', check: wholeNumber },
  { names: ['-b', '--block'], arg: 'required', effect: 'none', what: 'mpdk has no PCI bus: its ports are --vdev devices, none to block' },
  { names: ['-a', '--allow'], arg: 'required', effect: 'none', what: 'mpdk has no PCI bus: its ports are the --vdev devices, always used' },
  { names: ['--vdev'], arg: 'required', effect: 'works', what: 'a virtual device, one port: net_ring, net_null, net_pcap, net_af_packet, net_memif' },
  { names: ['--iova-mode'], arg: 'required', effect: 'none', what: 'mpdk addresses shared memory by offsets; no device does DMA to it', check: oneOf('pa', 'va') },
  { names: ['-d'], arg: 'required', effect: 'refused', what: 'mpdk loads no shared-object drivers: a driver is a TypeScript module given to registerDriver' },
  { names: ['--vmware-tsc-map'], arg: 'none', effect: 'none', what: 'mpdk reads no TSC: its clocks are the operating system\'s' },
  { names: ['--proc-type'], arg: 'required', effect: 'works', what: 'primary, secondary or auto' },
  { names: ['--syslog'], arg: 'required', effect: 'none', what: 'mpdk\'s messages go to the program\'s logger (stderr for the shipped programs: pipe it to logger(1))', check: oneOf(...SYSLOG) },
  { names: ['--log-level'], arg: 'required', effect: 'works', what: "the log's threshold: a DPDK level (1-8 or its name), or TYPE:LEVEL / PATTERN,LEVEL (mpdk has one log)" },
  { names: ['--trace'], arg: 'required', effect: 'none', what: 'mpdk has no trace points (DPDK\'s rte_trace)' },
  { names: ['--trace-dir'], arg: 'required', effect: 'none', what: 'mpdk has no trace points (DPDK\'s rte_trace)' },
  { names: ['--trace-bufsz'], arg: 'required', effect: 'none', what: 'mpdk has no trace points (DPDK\'s rte_trace)', check: (v) => (/^\d+[BKM]?$/.test(v) ? null : 'expected a size such as 2M (B, K or M)') },
  { names: ['--trace-mode'], arg: 'required', effect: 'none', what: 'mpdk has no trace points (DPDK\'s rte_trace)', check: oneOf('o', 'overwrite', 'd', 'discard') },
  { names: ['-v'], arg: 'none', effect: 'works', what: 'log the version at start' },
  { names: ['-h', '--help'], arg: 'none', effect: 'works', what: "the program's help, EAL options included, then exit 0" },
  { names: ['--in-memory'], arg: 'none', effect: 'works', what: 'a primary with no files: the region is anonymous shared memory; no secondary can join' },
  { names: ['--base-virtaddr'], arg: 'required', effect: 'none', what: 'mpdk stores offsets, never addresses: every process maps the region where it likes', check: (v) => (/^(0x)?[0-9a-fA-F]+$/.test(v) ? null : 'expected a hexadecimal address') },
  { names: ['--telemetry'], arg: 'none', effect: 'works', what: 'serve the telemetry socket (the default)' },
  { names: ['--no-telemetry'], arg: 'none', effect: 'works', what: 'serve no telemetry socket' },
  { names: ['--force-max-simd-bitwidth'], arg: 'required', effect: 'none', what: 'mpdk has no vector code paths to choose between', check: wholeNumber },
  { names: ['--huge-unlink'], arg: 'optional', effect: 'none', what: 'mpdk makes its region file afresh and removes it when the last process leaves', check: oneOf('existing', 'always', 'never') },
  { names: ['--no-huge'], arg: 'none', effect: 'none', what: 'mpdk uses no hugepages unless --huge-dir (the region is in /dev/shm; secondaries still work)' },
  { names: ['--no-pci'], arg: 'none', effect: 'none', what: 'mpdk has no PCI bus' },
  { names: ['--no-hpet'], arg: 'none', effect: 'none', what: 'mpdk reads no HPET: its clocks are the operating system\'s' },
  { names: ['--no-shconf'], arg: 'none', effect: 'works', what: 'no shared files: the same as --in-memory' },
  { names: ['--socket-mem'], arg: 'required', effect: 'works', what: 'the region\'s size: the sum of the per-socket MiB (mpdk has one region)' },
  { names: ['--socket-limit'], arg: 'required', effect: 'none', what: 'mpdk\'s region never grows: its size is set at start (-m or --socket-mem)', check: (v) => (/^\d+(,\d+)*$/.test(v) ? null : 'expected MiB per socket, e.g. 1024,1024') },
  { names: ['--huge-dir'], arg: 'required', effect: 'works', what: 'put the region on the hugetlbfs mounted there instead of /dev/shm' },
  { names: ['--file-prefix'], arg: 'required', effect: 'works', what: 'the instance\'s name' },
  { names: ['--create-uio-dev'], arg: 'none', effect: 'none', what: 'mpdk drives no UIO device' },
  { names: ['--vfio-intr'], arg: 'required', effect: 'none', what: 'mpdk drives no VFIO device', check: oneOf('legacy', 'msi', 'msix') },
  { names: ['--vfio-vf-token'], arg: 'required', effect: 'none', what: 'mpdk drives no VFIO device' },
  { names: ['--legacy-mem'], arg: 'none', effect: 'none', what: 'mpdk\'s region is always reserved whole at start, as legacy memory is' },
  { names: ['--single-file-segments'], arg: 'none', effect: 'none', what: 'mpdk\'s region is already one file' },
  { names: ['--match-allocations'], arg: 'none', effect: 'none', what: 'mpdk frees no hugepages while it runs: the region is reserved whole' },
  { names: ['--huge-worker-stack'], arg: 'optional', effect: 'none', what: 'lcore threads are Node worker threads, with Node\'s stacks', check: wholeNumber },
];

/** The entry of an option spelling, or undefined. */
export function dpdkOption(name: string): DpdkOption | undefined {
  return DPDK_EAL_OPTIONS.find((o) => o.names.includes(name));
}
