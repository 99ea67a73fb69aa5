/**
 * DPDK 22.11's EAL options, every one: a table (one row per option, with a value DPDK takes)
 * parsed by the EAL, each working, accepted without effect, or refused in one line, as
 * src/eal/dpdk-options.ts and docs/eal-options.md say; the table against `dpdk-testpmd
 * --help`; the forms of --lcores (DPDK's own example) and --log-level; then real programs:
 * DPDK's documented command lines with every accepted option at once, pinning that follows
 * --lcores (main thread, worker thread, l2fwd_fork's slave processes), --in-memory (no
 * files, no secondaries, worker threads sharing the memory), and object names as long as
 * DPDK's.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  DPDK_EAL_OPTIONS, EAL_OPTION_NAMES, Eal, MEMPOOL_NAMESIZE, MEMZONE_NAMESIZE, Mempool, RING_NAMESIZE, Ring, UsageError, parseEalArgs, remoteLaunch, type EalOptions,
} from '../src/index.js';
import { ROOT, leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix } from './helpers.js';

after(reapAll);

const base = parseEalArgs([]).eal;

/** The EAL's options for `args`, or the refusal's message. */
function parse(args: string[]): EalOptions | string {
  try {
    return parseEalArgs(args).eal;
  } catch (e) {
    assert.ok(e instanceof UsageError, `${args.join(' ')}: ${String(e)}`);
    return e.message;
  }
}

type Expect = Partial<EalOptions> | RegExp;

/** One row per DPDK option: a command line DPDK takes, and what mpdk makes of it. */
const ROWS: [option: string, args: string[], expect: Expect][] = [
  ['-c', ['-c', '0x6'], { lcores: [1, 2], cpusets: { 1: [1], 2: [2] }, mainLcore: 1 }],
  ['-l', ['-l', '0-2,5'], { lcores: [0, 1, 2, 5], mainLcore: 0 }],
  ['--lcores', ['--lcores', '0@1,1@0'], { lcores: [0, 1], cpusets: { 0: [1], 1: [0] } }],
  ['-s', ['-s', '0x4'], /^-s: mpdk has no service cores \(DPDK's rte_service\)/],
  ['-S', ['-S', '2'], /^-S: mpdk has no service cores/],
  ['--main-lcore', ['-l', '0-3', '--main-lcore', '2'], { mainLcore: 2 }],
  ['--master-lcore', ['-l', '0-3', '--master-lcore=3'], { mainLcore: 3 }],
  ['--mbuf-pool-ops-name', ['--mbuf-pool-ops-name', 'ring_mp_mc'], { ignored: ['--mbuf-pool-ops-name=ring_mp_mc'] }],
  ['-n', ['-n', '4'], { ignored: ['-n=4'] }],
  ['-m', ['-m', '512'], { memoryMb: 512 }],
  ['-r', ['-r2'], { ignored: ['-r=2'] }],
  ['-b', ['-b', '0000:00:08.0'], { ignored: ['-b=0000:00:08.0'] }],
  ['--block', ['--block=0000:00:08.0'], { ignored: ['--block=0000:00:08.0'] }],
  ['-a', ['-a', '0000:00:08.0', '-a', '0000:00:09.0'], { ignored: ['-a=0000:00:08.0', '-a=0000:00:09.0'] }],
  ['--allow', ['--allow', '0000:00:08.0'], { ignored: ['--allow=0000:00:08.0'] }],
  ['--vdev', ['--vdev', 'net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap'], { vdevs: ['net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap'] }],
  ['--iova-mode', ['--iova-mode', 'va'], { ignored: ['--iova-mode=va'] }],
  ['-d', ['-d', '/usr/lib/dpdk/pmds'], /^-d: mpdk loads no shared-object drivers/],
  ['--vmware-tsc-map', ['--vmware-tsc-map'], { ignored: ['--vmware-tsc-map'] }],
  ['--proc-type', ['--proc-type', 'auto'], { procType: 'auto', procTypeGiven: true }],
  ['--syslog', ['--syslog', 'local0'], { ignored: ['--syslog=local0'] }],
  ['--log-level', ['--log-level', 'lib.eal:debug'], { logLevel: 'debug' }],
  ['--trace', ['--trace=eal'], { ignored: ['--trace=eal'] }],
  ['--trace-dir', ['--trace-dir=/tmp'], { ignored: ['--trace-dir=/tmp'] }],
  ['--trace-bufsz', ['--trace-bufsz=2M'], { ignored: ['--trace-bufsz=2M'] }],
  ['--trace-mode', ['--trace-mode=d'], { ignored: ['--trace-mode=d'] }],
  ['-v', ['-v'], { version: true }],
  ['-h', ['-h'], { help: true }],
  ['--help', ['--help'], { help: true }],
  ['--in-memory', ['--in-memory', '--proc-type=auto'], { inMemory: true, procType: 'primary' }],
  ['--base-virtaddr', ['--base-virtaddr', '0x100000000'], { ignored: ['--base-virtaddr=0x100000000'] }],
  ['--telemetry', ['--no-telemetry', '--telemetry'], { telemetry: true }],
  ['--no-telemetry', ['--no-telemetry'], { telemetry: false }],
  ['--force-max-simd-bitwidth', ['--force-max-simd-bitwidth=512'], { ignored: ['--force-max-simd-bitwidth=512'] }],
  ['--huge-unlink', ['--huge-unlink', '--huge-unlink=never'], { ignored: ['--huge-unlink', '--huge-unlink=never'] }],
  ['--no-huge', ['--no-huge'], { ignored: ['--no-huge'] }],
  ['--no-pci', ['--no-pci'], { ignored: ['--no-pci'] }],
  ['--no-hpet', ['--no-hpet'], { ignored: ['--no-hpet'] }],
  ['--no-shconf', ['--no-shconf'], { inMemory: true }],
  ['--socket-mem', ['--socket-mem', '1024,1024'], { memoryMb: 2048 }],
  ['--socket-limit', ['--socket-limit=2048,0'], { ignored: ['--socket-limit=2048,0'] }],
  ['--huge-dir', ['--huge-dir', '/dev/hugepages'], { hugeDir: '/dev/hugepages' }],
  ['--file-prefix', ['--file-prefix', 'app_1'], { filePrefix: 'app_1' }],
  ['--create-uio-dev', ['--create-uio-dev'], { ignored: ['--create-uio-dev'] }],
  ['--vfio-intr', ['--vfio-intr', 'msix'], { ignored: ['--vfio-intr=msix'] }],
  ['--vfio-vf-token', ['--vfio-vf-token', '14d63f20-8445-11ea-8900-1f9ce7d5650d'], { ignored: ['--vfio-vf-token=14d63f20-8445-11ea-8900-1f9ce7d5650d'] }],
  ['--legacy-mem', ['--legacy-mem'], { ignored: ['--legacy-mem'] }],
  ['--single-file-segments', ['--single-file-segments'], { ignored: ['--single-file-segments'] }],
  ['--match-allocations', ['--match-allocations'], { ignored: ['--match-allocations'] }],
  ['--huge-worker-stack', ['--huge-worker-stack=512'], { ignored: ['--huge-worker-stack=512'] }],
];

describe("DPDK 22.11's EAL options", () => {
  it('every option: works, or is accepted without effect (nothing else changes), or is refused in one line, as the table says', () => {
    const covered = new Set(ROWS.map((r) => r[0]));
    for (const o of DPDK_EAL_OPTIONS) for (const n of o.names) assert.ok(covered.has(n), `no row for ${n}`);
    for (const [opt, args, expect] of ROWS) {
      const spec = DPDK_EAL_OPTIONS.find((o) => o.names.includes(opt))!;
      const got = parse(args);
      if (expect instanceof RegExp) {
        assert.equal(spec.effect, 'refused', opt);
        assert.equal(typeof got, 'string', `${opt} is refused`);
        assert.match(got as string, expect);
        assert.doesNotMatch(got as string, /\n/, 'one line');
        continue;
      }
      assert.notEqual(spec.effect, 'refused', opt);
      assert.equal(typeof got, 'object', `${args.join(' ')}: ${String(got)}`);
      const o = got as EalOptions;
      for (const [k, v] of Object.entries(expect)) assert.deepEqual((o as unknown as Record<string, unknown>)[k], v, `${args.join(' ')}: ${k}`);
      if (spec.effect === 'none') {
        // Nothing but the note changed.
        assert.deepEqual({ ...o, ignored: [] }, { ...base, ignored: [] }, `${opt} changes nothing`);
      }
    }
  });

  it("DPDK's value checks hold for the options without effect, and combinations DPDK refuses are refused", () => {
    for (const [args, re] of [
      [['--iova-mode', 'xx'], /^invalid --iova-mode 'xx': expected pa, va$/],
      [['--vfio-intr=pin'], /^invalid --vfio-intr 'pin': expected legacy, msi, msix$/],
      [['--syslog', 'local9'], /^invalid --syslog 'local9': expected auth, cron/],
      [['--trace-mode=x'], /^invalid --trace-mode 'x'/],
      [['--huge-unlink=sometimes'], /^invalid --huge-unlink 'sometimes'/],
      [['-n', 'four'], /^invalid -n 'four': expected a whole number$/],
      [['--no-pci=1'], /^option --no-pci takes no value$/],
      [['-a', '0000:00:08.0', '-b', '0000:00:09.0'], /^-a \(allow\) and -b \(block\) cannot be used together/],
      [['-m', '512', '--socket-mem', '512'], /^-m and --socket-mem both size the memory: give one/],
      [['-l', '0-1', '-c', '3'], /^-c after -l: give one of -l, -c and --lcores$/],
      [['--in-memory', '--proc-type=secondary'], /^--in-memory runs a primary alone: it keeps no files a secondary could join/],
      [['--in-memory', '--huge-dir', '/mnt/huge'], /^--in-memory keeps no files: --huge-dir cannot apply/],
      [['--no-huge', '--huge-dir', '/mnt/huge'], /^--no-huge and --huge-dir contradict each other/],
      [['--socket-mem', '1,1'], /^invalid --socket-mem '1,1': the region is their sum, 2 MiB/],
      [['--log-level', 'verbose'], /^invalid --log-level 'verbose': expected a level/],
      [['--log-level', 'lib.eal(:debug'], /^invalid --log-level 'lib\.eal\(:debug': 'lib\.eal\(' is not a regular expression$/],
    ] as [string[], RegExp][]) {
      const got = parse(args);
      assert.equal(typeof got, 'string', `${args.join(' ')} is refused`);
      assert.match(got as string, re);
    }
  });

  it('--lcores reads DPDK\'s own example as DPDK does; -l and -c put each lcore on its own CPU', () => {
    const o = parse(['--lcores=1,2@(5-7),(3-5)@(0,2),(0,6),7-8']) as EalOptions;
    assert.deepEqual(o.lcores, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(o.cpusets, { 0: [0, 6], 1: [1], 2: [5, 6, 7], 3: [0, 2], 4: [0, 2], 5: [0, 2], 6: [0, 6], 7: [7], 8: [8] });
    assert.deepEqual((parse(['--lcores', '(0-3)@1']) as EalOptions).cpusets, { 0: [1], 1: [1], 2: [1], 3: [1] });
    assert.deepEqual((parse(['--lcores', '0-3']) as EalOptions).cpusets, { 0: [0], 1: [1], 2: [2], 3: [3] });
    assert.deepEqual((parse(['-l', '2,4']) as EalOptions).cpusets, { 2: [2], 4: [4] });
    for (const bad of ['1@', '(1-2', '1-2)', '3-1@0', '1@(x)', '200', '1@2000', '']) assert.equal(typeof parse(['--lcores', bad]), 'string', `--lcores '${bad}' is refused`);
    assert.match(parse(['--lcores', '(1-2']) as string, /^invalid --lcores '\(1-2': a '\(' without its '\)'$/);
  });

  it('--log-level takes DPDK\'s numbers, names and TYPE:LEVEL / PATTERN,LEVEL forms', () => {
    const lv = (v: string): string => (parse(['--log-level', v]) as EalOptions).logLevel;
    assert.deepEqual(['1', '2', '3', '4', '5', '6', '7', '8'].map(lv), ['error', 'error', 'error', 'error', 'warning', 'warning', 'info', 'debug']);
    assert.deepEqual(['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'info', 'debug', 'NOTICE'].map(lv), ['error', 'error', 'error', 'error', 'warning', 'warning', 'info', 'debug', 'warning']);
    assert.equal(lv('lib.eal:debug'), 'debug');
    assert.equal(lv('lib.eal:8'), 'debug');
    assert.equal(lv('pmd.net.*,8'), 'debug');
    assert.equal(lv('eal:notice'), 'warning');
    assert.equal((parse(['--log-level', 'help']) as EalOptions).help, true);
  });

  it("the table is DPDK's: every option of dpdk-testpmd --help is in it", { skip: spawnSync('dpdk-testpmd', ['--help']).error !== undefined && 'dpdk-testpmd is not installed' }, () => {
    const r = spawnSync('dpdk-testpmd', ['--help', '--no-huge', '--no-pci'], { encoding: 'utf8', timeout: 20000 });
    const eal = (r.stdout + r.stderr).split(/\n(?=EAL common options:)/)[1]!.split(/\n\S.*testpmd.*options/i)[0]!;
    const names = new Set([...eal.matchAll(/(?:^|[\s,])(--?[A-Za-z][\w-]*)/g)].map((m) => m[1]!).filter((n) => !['-', '--'].includes(n)));
    const ours = new Set(EAL_OPTION_NAMES);
    const missing = [...names].filter((n) => !ours.has(n));
    assert.deepEqual(missing, [], "DPDK's options mpdk does not know");
    assert.ok(names.size >= 45, `read ${names.size} options from DPDK's help`);
  });

  it('docs/eal-options.md has every option with what mpdk does with it', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/eal-options.md'), 'utf8');
    const word = { works: 'works', none: 'no effect', refused: 'refused' } as const;
    for (const o of DPDK_EAL_OPTIONS) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${o.names[0]}`) && l.includes(' | '));
      assert.ok(row, `docs/eal-options.md has no row for ${o.names[0]}`);
      assert.ok(row.includes(`| ${word[o.effect]} |`), `${o.names[0]}: the doc says otherwise: ${row}`);
    }
  });
});

/** The CPUs a thread may run on (its Cpus_allowed_list), from /proc. */
function cpusOf(pid: number, tid = pid): string {
  return /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))![1]!;
}

const TWO_CPUS = (() => {
  const online = fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  return /^0-([1-9]\d*)$/.test(online);
})();

describe('programs started with DPDK\'s options', () => {
  it("DPDK 22.11's documented command lines run as written, with every accepted option at once", async () => {
    const p = uniquePrefix('eo');
    const noEffect = ROWS.filter(([o]) => DPDK_EAL_OPTIONS.find((x) => x.names.includes(o))!.effect === 'none').flatMap(([, a]) => a).filter((a, i, all) => !(a === '-b' || all[i - 1] === '-b' || a.startsWith('--block')));
    // dpdk-simple_mp -l 0-1 -n 4 --proc-type=primary (the guide), with every option that has no effect, -v and --socket-mem.
    const a = spawnNode('mpdk', ['simple_mp', '-l', '0-1', '-n', '4', '--proc-type=primary', '--file-prefix', p, '-v', '--socket-mem=64,64', '--log-level=lib.eal:debug', ...noEffect]);
    await a.waitFor(/simple_mp > /, 15000);
    assert.match(a.err, /EAL: RTE Version: 'mpdk \d+\.\d+\.\d+'/);
    assert.match(a.err, /EAL: primary: 128 MiB shared region/, '--socket-mem=64,64 is a 128 MiB region');
    assert.match(a.err, /EAL: --iova-mode=va: no effect in mpdk \(mpdk addresses shared memory by offsets; no device does DMA to it\)/);
    // dpdk-simple_mp -l 2-3 -n 4 --proc-type=secondary (the guide)
    const b = spawnNode('mpdk', ['simple_mp', '-l', '2-3', '-n', '4', '--proc-type=secondary', '--file-prefix', p, '--log-level=notice']);
    await b.waitFor(/simple_mp > /, 15000);
    b.send('send hello');
    await a.waitFor(/hello/, 5000);
    b.send('quit');
    assert.equal(await b.exited, 0, b.err);
    a.send('quit');
    assert.equal(await a.exited, 0, a.err);
    assert.deepEqual(leftovers(p), []);
    const refused = await run('mpdk', ['simple_mp', '-l', '0-1', '-d', 'librte_net_ixgbe.so', '--file-prefix', p], 15000);
    assert.equal(refused.code, 2);
    assert.equal(refused.err, 'simple_mp: -d: mpdk loads no shared-object drivers: a driver is a TypeScript module given to registerDriver\n');
  });

  it('--lcores pins as it maps: the main thread, a worker thread, and l2fwd_fork\'s slave processes', { skip: !TWO_CPUS && 'needs 2 CPUs' }, async () => {
    const p = uniquePrefix('eo');
    // simple_mp: main lcore 0 on CPU 1, its worker lcore 1 on CPU 0 (the reverse of -l 0-1)
    const a = spawnNode('mpdk', ['simple_mp', '--lcores', '0@1,1@0', '--proc-type=primary', '--file-prefix', p]);
    await a.waitFor(/simple_mp > /, 15000);
    const pid = a.proc.pid!;
    const tids = fs.readdirSync(`/proc/${pid}/task`).map(Number);
    assert.equal(cpusOf(pid), '1', 'the main thread on CPU 1');
    assert.ok(tids.some((t) => t !== pid && cpusOf(pid, t) === '0'), `a worker thread on CPU 0: ${tids.map((t) => cpusOf(pid, t)).join(' ')}`);
    a.send('quit');
    assert.equal(await a.exited, 0, a.err);
    // l2fwd_fork: slaves of lcores 1 and 2 both on CPU 0
    const q = uniquePrefix('eo');
    const m = spawnNode('mpdk', ['l2fwd_fork', '--lcores', '0@1,(1-2)@0', '--file-prefix', q, '--log-level', 'error', '--vdev=net_ring0', '--vdev=net_ring1', '--', '-p', '3', '-T', '0', '--standby=0']);
    const s1 = Number((await m.waitFor(/slave lcore 1 started: pid (\d+)/, 15000))[1]);
    const s2 = Number((await m.waitFor(/slave lcore 2 started: pid (\d+)/, 15000))[1]);
    await m.waitFor(/slave lcore 2 \(pid \d+\): portmask/, 15000);
    await sleep(200);
    assert.equal(cpusOf(s1), '0');
    assert.equal(cpusOf(s2), '0');
    assert.equal(cpusOf(m.proc.pid!), '1', 'the master on CPU 1');
    m.proc.kill('SIGINT');
    assert.equal(await m.exited, 0, m.err);
    assert.deepEqual(leftovers(q), []);
  });

  it('--in-memory: a primary with no files, whose worker threads share its memory; no secondary joins it', async () => {
    const p = uniquePrefix('eo');
    const a = spawnNode('mpdk', ['simple_mp', '-l', '0-1', '--in-memory', '--file-prefix', p]);
    await a.waitFor(/simple_mp > /, 15000);
    assert.match(a.err, /shared region in memory \(--in-memory: no files, no secondary processes\)/);
    assert.equal(fs.existsSync(`/dev/shm/mpdk.${p}`), false, 'no instance folder');
    const sec = await run('mpdk', ['simple_mp', '-l', '2-3', '--proc-type=secondary', '--file-prefix', p], 15000);
    assert.equal(sec.code, 1);
    assert.match(sec.err, /^simple_mp: no primary process is running for --file-prefix=/);
    const both = await run('mpdk', ['simple_mp', '-l', '2-3', '--proc-type=secondary', '--in-memory', '--file-prefix', p], 15000);
    assert.equal(both.code, 2);
    assert.match(both.err, /^simple_mp: --in-memory runs a primary alone/);
    const fork = await run('mpdk', ['l2fwd_fork', '-l', '0-2', '--in-memory', '--file-prefix', p, '--vdev=net_ring0', '--vdev=net_ring1', '--', '-p', '3'], 15000);
    assert.equal(fork.code, 2);
    assert.match(fork.err, /^l2fwd_fork: l2fwd_fork's slaves are secondary processes, which --in-memory \(no files, no secondaries\) cannot have/);
    a.send('quit');
    assert.equal(await a.exited, 0, a.err);
    assert.deepEqual(leftovers(p), []);

    // The library: a worker lcore thread and the main thread meet in a ring of the anonymous region.
    const eal = Eal.init({ lcores: [0, 1], inMemory: true, filePrefix: p });
    try {
      const ring = Ring.create(eal, 'meet', { count: 64 });
      const job = remoteLaunch(eal, 1, path.join(ROOT, 'dist/test/eal-options-lcore.js'), { ring: 'meet', n: 7 });
      const h = new Uint32Array(8);
      let got = 0;
      const end = Date.now() + 10000;
      while (got < 7 && Date.now() < end) {
        got += ring.dequeueBurst(h.subarray(got), 8 - got);
        if (got < 7) await sleep(10);
      }
      assert.equal(got, 7, 'the worker thread enqueued into the same memory');
      assert.equal(await job.done, 7);
    } finally {
      eal.close();
    }
    assert.equal(fs.existsSync(`/dev/shm/mpdk.${p}`), false);
  });

  it('object names as long as DPDK allows: memzones 31 bytes, rings 28, mempools 25', () => {
    const p = uniquePrefix('eo');
    const eal = Eal.init({ filePrefix: p, memoryMiB: 16 });
    try {
      assert.deepEqual([MEMZONE_NAMESIZE, RING_NAMESIZE, MEMPOOL_NAMESIZE], [31, 28, 25], "DPDK's RTE_*_NAMESIZE less their NUL");
      eal.memzones.reserve('m'.repeat(31), 64);
      assert.throws(() => eal.memzones.reserve('n'.repeat(32), 64), /1 to 31 bytes/);
      Ring.create(eal, 'r'.repeat(28), { count: 16 });
      assert.throws(() => Ring.create(eal, 's'.repeat(29), { count: 16 }), /1 to 28 bytes/);
      Mempool.create(eal, 'p'.repeat(25), { count: 16, eltSize: 64 });
      assert.throws(() => Mempool.create(eal, 'q'.repeat(26), { count: 16, eltSize: 64 }), /1 to 25 bytes/);
    } finally {
      eal.close();
      removeInstance(p);
    }
  });
});
