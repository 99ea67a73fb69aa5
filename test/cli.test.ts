/**
 * The command line, the same for every program and tool (src/eal/argparse.ts, src/cli):
 * help on stdout with exit 0, one line with the nearest spelling and exit 2 for what is
 * misspelled, no option-looking word taken as a value, no unsupported option ignored, a
 * closed pipe ends quietly, and one exit status per kind of refusal (2: the command line
 * alone is wrong; 1: refused at run time). Table-driven over every program `mpdk` runs.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Eal, UsageError, parseArgs, parsePortmask, type ProgramSpec } from '../src/index.js';
import { PROGRAMS } from '../src/cli/programs.js';
import { each } from './each.js';
import { MPDK, exitStatus, leftovers, reapAll, run, uniquePrefix } from './helpers.js';

after(reapAll);

const NAMES = Object.keys(PROGRAMS);
const SPECS = new Map<string, ProgramSpec>();
for (const n of NAMES) SPECS.set(n, (await PROGRAMS[n]!.load()).spec);
const QUIET = ['--log-level', 'error'];

/** A one-line refusal on stderr, nothing on stdout. */
function oneLine(r: { code: number; out: string; err: string }, code: number, prog: string, what: string): void {
  assert.equal(r.code, code, `${what}: exit ${r.code}: ${r.err}`);
  assert.equal(r.out, '', `${what}: nothing on stdout`);
  assert.equal(r.err.split('\n').length, 2, `${what}: one line: ${r.err}`);
  assert.ok(r.err.startsWith(`${prog}: `), `${what}: names the program: ${r.err}`);
}

/** The usage message a command line gets from the parser alone (in-process), or undefined. */
function refusal(spec: ProgramSpec, argv: string[]): string | undefined {
  try {
    parseArgs(spec, argv);
    return undefined;
  } catch (e) {
    assert.ok(e instanceof UsageError, `${spec.name} ${argv.join(' ')}: ${String(e)}`);
    assert.equal(e.message.includes('\n'), false, `one line: ${e.message}`);
    return e.message;
  }
}

/** `--name` with its 2nd and 3rd letters swapped: one edit from the name (`--josn`). */
function typo(name: string): string {
  const bare = name.replace(/^-+/, '');
  return name.slice(0, name.length - bare.length) + bare[0] + bare[2] + bare[1] + bare.slice(3);
}

/** EAL arguments with --log-level error added (before `--`, if there is one). */
function quiet(args: readonly string[]): string[] {
  const dd = args.indexOf('--');
  return dd < 0 ? [...args, ...QUIET] : [...args.slice(0, dd), ...QUIET, ...args.slice(dd)];
}

/** Where each kind of program's own options start (after `--` when it takes EAL options). */
const own = (name: string, args: string[]): string[] => (SPECS.get(name)!.eal ? ['--', ...args] : args);

describe('mpdk', () => {
  test('mpdk --help lists every program and the exit statuses on stdout, exit 0; no program at all is exit 2', async () => {
    await each([['--help'], ['-h'], ['help']], 3, async (args) => {
      const r = await run('mpdk', args);
      assert.equal(r.code, 0, r.err);
      for (const n of NAMES) assert.match(r.out, new RegExp(`^  ${n} `, 'm'), `${args[0]} lists ${n}`);
      assert.match(r.out, /exit status: 0 done, 1 refused or failed at run time .*, 2 wrong command line/);
      assert.equal(r.err, '');
    });
    const none = await run('mpdk', []);
    assert.equal(none.code, 2);
    assert.equal(none.out, '');
    assert.match(none.err, /usage: mpdk <program>/);
  });

  test('an unknown or misspelled program is one line naming the nearest, exit 2', async () => {
    await each([
      [['smple_mp'], /^mpdk: unknown program 'smple_mp'; did you mean simple_mp\?\n$/],
      [['help', 'pktgne'], /^mpdk: unknown program 'pktgne'; did you mean pktgen\?\n$/],
      [['proc_info'], /did you mean proc-info\?/],
      [['frobnicate'], /^mpdk: unknown program 'frobnicate'; programs: demo, simple_mp, .*\n$/],
      [['--verison'], /^mpdk: unknown option '--verison'; did you mean --version\?\n$/],
    ] as const, 3, async ([args, re]) => {
      const r = await run('mpdk', [...args]);
      oneLine(r, 2, 'mpdk', args.join(' '));
      assert.match(r.err, re);
    });
  });
});

describe('every program and tool', () => {
  test('--help, -h and `mpdk help NAME` print the same help on stdout and exit 0, demo included', async () => {
    await each(NAMES, 3, async (n) => {
      const spec = SPECS.get(n)!;
      const help = await run('mpdk', [n, '--help']);
      assert.equal(help.code, 0, `${n} --help: ${help.err}`);
      assert.equal(help.err, '', `${n} --help writes nothing on stderr`);
      assert.ok(help.out.startsWith(`usage: mpdk ${n} `), `${n}: ${help.out.slice(0, 80)}`);
      for (const o of spec.options) assert.ok(help.out.includes(o.names[0]!), `${n} --help names ${o.names[0]}`);
      assert.match(help.out, /exit status: 0 /);
      const viaHelp = await run('mpdk', ['help', n]);
      assert.equal(viaHelp.code, 0);
      assert.equal(viaHelp.out, help.out, `mpdk help ${n} = mpdk ${n} --help`);
      // -h anywhere, even among other options or after a value-taking option: help, nothing run.
      const late = await run('mpdk', [n, ...own(n, ['--bogus', '-h'])]);
      assert.equal(late.code, 0, `${n} ... -h: ${late.err}`);
      assert.equal(late.out, help.out);
    });
  });

  test('a misspelled option is one line with "did you mean" and exit 2, EAL options included', async () => {
    const cases: [string, string[], RegExp][] = [];
    for (const n of NAMES) {
      const spec = SPECS.get(n)!;
      const long = spec.options.flatMap((o) => o.names).find((x) => x.startsWith('--') && x.length >= 6);
      if (long) cases.push([n, own(n, [typo(long)]), new RegExp(`unknown option '${typo(long)}': did you mean ${long}\\?`)]);
      else cases.push([n, own(n, ['--hepl']), /unknown option '--hepl': did you mean --help\?/]);
      if (spec.eal) cases.push([n, ['--file-prefx', 'x'], /unknown EAL option '--file-prefx': did you mean --file-prefix\?/]);
      if (spec.eal) cases.push([n, ['--zzzzzzzz'], new RegExp(`unknown EAL option '--zzzzzzzz' \\(program options go after '--'; see 'mpdk ${n} --help'\\)$`, 'm')]);
    }
    await each(cases, 3, async ([n, args, re]) => {
      const r = await run('mpdk', [n, ...args]);
      oneLine(r, 2, n, `${n} ${args.join(' ')}`);
      assert.match(r.err, re, `${n} ${args.join(' ')}`);
    });
  });

  test('every option of every program: a one-letter slip names it', () => {
    for (const [n, spec] of SPECS) {
      for (const name of spec.options.flatMap((o) => o.names)) {
        if (!name.startsWith('--') || name.length < 6) continue;
        const msg = refusal(spec, own(n, [typo(name)]));
        assert.equal(msg, `unknown option '${typo(name)}': did you mean ${name}?`, `${n} ${typo(name)}`);
      }
    }
  });

  test('a port mask that selects no port says how to write one (exit 2 in mp_server, symmetric_mp, l2fwd_fork, proc-info)', () => {
    for (const v of ['0', '0x0', '00']) {
      assert.throws(() => parsePortmask(v), (e) => e instanceof UsageError && e.message === `invalid -p '${v}': the mask selects no port; set one bit per port, e.g. -p 3 for ports 0 and 1`);
    }
    assert.deepEqual(parsePortmask('0x5'), [0, 2]);
  });

  test('a word that looks like an option is never taken as a value', async () => {
    for (const [n, spec] of SPECS) {
      for (const o of spec.options.filter((x) => x.value !== undefined && !x.optional)) {
        const name = o.names[0]!;
        const msg = refusal(spec, own(n, [name, '--stats']));
        assert.match(msg ?? '', new RegExp(`^option ${name} needs a value, not the option '--stats'`), `${n} ${name} --stats`);
        assert.match(refusal(spec, own(n, [name])) ?? '', new RegExp(`^option ${name} needs a value`), `${n} ${name} at the end`);
      }
    }
    // The cases, end to end: a tool's --file-prefix, an EAL --file-prefix.
    const [tool, ealOpt, help] = await Promise.all([
      run('mpdk', ['info', '--file-prefix', '--json']),
      run('mpdk', ['pktgen', '--file-prefix', '-l', '3', '--', '--tx-port', '0']),
      run('mpdk', ['ls', '--file-prefix', '--help']),
    ]);
    oneLine(tool, 2, 'info', 'info --file-prefix --json');
    assert.match(tool.err, /option --file-prefix needs a value, not the option '--json'/);
    oneLine(ealOpt, 2, 'pktgen', 'pktgen --file-prefix -l 3');
    assert.match(ealOpt.err, /option --file-prefix needs a value/);
    // --help is help, wherever it is (it used to be taken as a prefix named '--help').
    assert.equal(help.code, 0);
    assert.match(help.out, /^usage: mpdk ls /);
    // A value that starts with '-' can still be given, as --name=VALUE; negative numbers and '-' are values.
    assert.equal(parseArgs(SPECS.get('dumpcap')!, ['-i', '0', '-w', '-']).value('-w'), '-');
    assert.equal(parseArgs(SPECS.get('proc-info')!, ['--ring=-odd-']).value('--ring'), '-odd-');
    assert.equal(parseArgs(SPECS.get('mp_client')!, ['--', '-n', '-1']).value('-n'), '-1');
    // top's refresh interval also answers to procps top's --delay and the word people try, --interval.
    for (const o of ['-d', '--delay', '--interval', '--delay=2']) assert.equal(parseArgs(SPECS.get('top')!, o.includes('=') ? [o] : [o, '2']).value('-d'), '2', o);
  });

  test('an option a program does not take is refused, not ignored', async () => {
    const cases: [string, string[], RegExp][] = [
      ['top', ['--json'], /^top: unknown option '--json' \(see 'mpdk top --help'\)\n$/],
      ['ls', ['--file-prefix', 'x'], /unknown option '--file-prefix'/],
      ['cleanup', ['--json'], /unknown option '--json'/],
      ['exporter', ['--json'], /unknown option '--json'/],
      ['dumpcap', ['--json'], /unknown option '--json'/],
      ['demo', ['--json'], /demo takes no options/],
      ['simple_mp', ['--', '--json'], /simple_mp takes no program options/],
      ['symmetric_mp', ['-l', '1', '-p', '3'], /unknown EAL option '-p': it is an option of the program, give it after '--'/],
      ['mp_server', ['--', '--file-prefix', 'x'], /unknown option '--file-prefix' after '--': it is an EAL option, give it before '--'/],
      ['mp_client', ['--', '-n', '0', 'extra'], /unexpected argument 'extra'/],
    ];
    await each(cases, 3, async ([n, args, re]) => {
      const r = await run('mpdk', [n, ...args]);
      oneLine(r, 2, n, `${n} ${args.join(' ')}`);
      assert.match(r.err, re);
    });
    // Every option is known to its program and to no other by accident: each spec's names are unique.
    for (const [n, spec] of SPECS) {
      const names = spec.options.flatMap((o) => o.names);
      assert.equal(new Set(names).size, names.length, `${n} declares an option twice`);
    }
  });
});

describe('a closed pipe', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-cli-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Run mpdk with stdout a real pipe (a FIFO) whose reader has already gone. */
  function intoClosedPipe(args: string[]): Promise<{ code: number; err: string }> {
    const fifo = path.join(tmp, `p${Math.random().toString(36).slice(2)}`);
    execFileSync('mkfifo', [fifo]);
    const rd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const wr = fs.openSync(fifo, fs.constants.O_WRONLY);
    fs.closeSync(rd); // no reader any more: the first write to wr fails with EPIPE
    const child = spawn(process.execPath, [MPDK, ...args], { stdio: ['ignore', wr, 'pipe'] });
    fs.closeSync(wr);
    fs.unlinkSync(fifo);
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const t = setTimeout(() => child.kill('SIGKILL'), 15000);
    return exitStatus(child, () => clearTimeout(t)).then((code) => ({ code, err }));
  }

  test('ls, info, proc-info, audit and every help end quietly with status 0 when the reader has gone', async () => {
    const p = uniquePrefix('cli');
    const { eal } = Eal.init(['-l', '5', '--file-prefix', p, ...QUIET], { handleSignals: false });
    try {
      const cases = [
        ['ls'], ['info', '--file-prefix', p], ['proc-info', '--file-prefix', p], ['audit', '--file-prefix', p],
        ['--help'], ...NAMES.map((n) => [n, '--help']),
      ];
      await each(cases, 3, async (args) => {
        const r = await intoClosedPipe(args);
        assert.equal(r.err, '', `mpdk ${args.join(' ')}: nothing on stderr, no EPIPE stack`);
        assert.equal(r.code, 0, `mpdk ${args.join(' ')}`);
      });
    } finally {
      eal.close();
    }
    assert.deepEqual(leftovers(p), []);
  });
});

describe('one exit status per kind of refusal', () => {
  test('no such instance is 1, one line, for every program and tool that attaches to one', async () => {
    const p = uniquePrefix('none');
    const cases: [string, string[]][] = [
      ['info', ['--file-prefix', p]],
      ['proc-info', ['--file-prefix', p]],
      ['top', ['--file-prefix', p, '--once']],
      ['audit', ['--file-prefix', p]],
      ['dumpcap', ['--file-prefix', p, '-i', '0', '-w', '/dev/null']],
      ['cleanup', ['--file-prefix', p]],
      ['simple_mp', ['-l', '0-1', '--proc-type=secondary', '--file-prefix', p]],
      ['symmetric_mp', ['-l', '1', '--proc-type=secondary', '--file-prefix', p, '--', '-p', '3', '--proc-id=0']],
      ['mp_client', ['-l', '1', '--file-prefix', p, '--', '-n', '0']],
      ['pktgen', ['-l', '1', '--proc-type=secondary', '--file-prefix', p, '--', '--tx-port', '0']],
    ];
    await each(cases, 3, async ([n, args]) => {
      const r = await run('mpdk', [n, ...(SPECS.get(n)!.eal ? quiet(args) : args)]);
      oneLine(r, 1, n, `${n} with no instance`);
    });
    assert.deepEqual(leftovers(p), []);
  });

  test('a port the instance lacks is 1 in mp_server, symmetric_mp and l2fwd_fork, and leaves nothing', async () => {
    const p = uniquePrefix('noport');
    const one = ['--vdev=net_ring0', ...QUIET];
    // An instance of its own each (at once): no program meets another's.
    await each([
      ['mp_server', ['-l', '0', '--file-prefix', `${p}a`, ...one, '--', '-p', '3', '-n', '1']],
      ['symmetric_mp', ['-l', '1', '--proc-type=auto', '--file-prefix', `${p}b`, ...one, '--', '-p', '3', '--num-procs=1', '--proc-id=0']],
      ['l2fwd_fork', ['-l', '0-2', '--file-prefix', `${p}c`, ...one, '--', '-p', '3']],
    ] as const, 3, async ([n, args]) => {
      const r = await run('mpdk', [n, ...args]);
      oneLine(r, 1, n, `${n} -p 3 with one port`);
      assert.match(r.err, /port 1\b.*(does not exist|but this instance has 1 port)/);
      assert.deepEqual(leftovers(args[args.indexOf('--file-prefix') + 1]!), [], `${n} leaves nothing`);
    });
  });

  test('what the command line alone decides is 2: a role the program does not take, too few lcores', async () => {
    const p = uniquePrefix('role');
    const v = ['--vdev=net_ring0', '--vdev=net_ring1', ...QUIET];
    // An instance name of its own each (at once): no program meets another's.
    await each([
      ['mp_server', ['-l', '0', '--proc-type=secondary', '--file-prefix', `${p}a`, ...v, '--', '-p', '3', '-n', '1'], /only as the primary/],
      ['l2fwd_fork', ['-l', '0-2', '--proc-type=secondary', '--file-prefix', `${p}b`, ...v, '--', '-p', '3'], /only as the primary/],
      ['mp_client', ['-l', '1', '--proc-type=primary', '--file-prefix', `${p}c`, ...QUIET, '--', '-n', '0'], /only as a secondary/],
      ['simple_mp', ['-l', '0', '--file-prefix', `${p}d`, ...QUIET], /at least 2 lcores/],
      ['l2fwd_fork', ['-l', '0-1', '--file-prefix', `${p}e`, ...v, '--', '-p', '3'], /not enough lcores/],
    ] as const, 3, async ([n, args, re]) => {
      const r = await run('mpdk', [n, ...args]);
      oneLine(r, 2, n, `${n} ${args.join(' ')}`);
      assert.match(r.err, re);
      assert.deepEqual(leftovers(args[args.indexOf('--file-prefix') + 1]!), []);
    });
  });

  test('a --vdev the drivers refuse is 2 in every program, one line naming the bad word and the valid ones, before any instance is touched', async () => {
    const p = uniquePrefix('vdev');
    const bad = '--vdev=net_foo0';
    const ring1 = '--vdev=net_ring1';
    // Each program's command line is otherwise one it runs (or refuses at run time): only the vdev is wrong.
    const cases: [string, string[]][] = [
      ['simple_mp', ['-l', '0-1', bad]],
      ['symmetric_mp', ['-l', '1', '--proc-type=auto', bad, ring1, '--', '-p', '3', '--num-procs=1', '--proc-id=0']],
      ['mp_server', ['-l', '0', bad, ring1, '--', '-p', '3', '-n', '1']],
      ['mp_client', ['-l', '1', bad, '--', '-n', '0']],
      ['l2fwd_fork', ['-l', '0-2', bad, ring1, '--', '-p', '3']],
      ['pktgen', ['-l', '1', '--proc-type=secondary', bad, '--', '--tx-port', '0']],
    ];
    assert.deepEqual(cases.map((c) => c[0]).sort(), NAMES.filter((n) => SPECS.get(n)!.eal).sort(), 'every program that takes EAL options');
    await each(cases, 3, async ([n, args]) => {
      const own = `${p}${n.replace(/_/g, '')}`; // an instance of its own each: no program meets another's
      const r = await run('mpdk', [n, '--file-prefix', own, ...args]);
      oneLine(r, 2, n, `${n} ${bad}`);
      assert.equal(r.err, `${n}: invalid --vdev 'net_foo0': no driver 'net_foo' (drivers: net_ring, net_null, net_pcap, net_af_packet, net_memif; the name is the driver's plus a number, e.g. net_ring0)\n`);
      assert.deepEqual(leftovers(own), [], `${n} leaves nothing`);
    });
    // A key the driver does not declare, a value out of its range, a key missing: the same kind of refusal.
    await each([
      ['net_ring0,bogus=1', /^symmetric_mp: invalid --vdev 'net_ring0,bogus=1': net_ring has no key 'bogus' \(its keys: peer\)$/],
      ['net_pcap0,rxpcap=in.pcap', /net_pcap has no key 'rxpcap'; did you mean rx_pcap\? \(its keys: rx_pcap, iface, tx_pcap, infinite_rx\)$/],
      ['net_null0,size=0', /'net_null0,size=0': size=0 is not an integer from 1 to 65535$/],
      ['net_af_packet0,qpairs=2', /iface=NAME is required/],
      ['net_rign0', /no driver 'net_rign'; did you mean net_ring\?/],
      ['net_ring0,peer=5', /'net_ring0,peer=5': peer=5 is not an integer from 0 to 1$/],
      ['net_ring0,peer=0', /'net_ring0,peer=0': peer=0 is the port itself$/],
    ] as const, 3, async ([vdev, re]) => {
      const r = await run('mpdk', ['symmetric_mp', '-l', '1', '--file-prefix', p, `--vdev=${vdev}`, ring1, '--', '-p', '3', '--num-procs=1', '--proc-id=0']);
      oneLine(r, 2, 'symmetric_mp', vdev);
      assert.match(r.err.trimEnd(), re);
    });
    // Between ports, as probe checks them: two memif servers on one socket.
    const [servers, attach, afp] = await Promise.all([
      run('mpdk', ['symmetric_mp', '-l', '1', '--file-prefix', p, '--vdev=net_memif0,role=server', '--vdev=net_memif1,role=server', '--', '-p', '3', '--num-procs=1', '--proc-id=0']),
      run('mpdk', ['port', 'attach', 'net_null2,sise=64', '--file-prefix', p]),
      run('mpdk', ['port', 'attach', 'net_af_packet2,iface=lo', '--file-prefix', p]),
    ]);
    oneLine(servers, 2, 'symmetric_mp', 'two memif servers on one socket');
    assert.match(servers.err, /invalid --vdev 'net_memif1,role=server': net_memif0 is already a server on socket \/run\/memif\.sock; give each server port its own socket\n$/);
    // What probe takes is taken here too: peers named either way, a server and a client on one socket.
    const smp = SPECS.get('symmetric_mp')!;
    for (const v of [['net_ring0,peer=1', 'net_ring1'], ['net_ring0', 'net_ring1,peer=0'], ['net_memif0,role=server', 'net_memif1']]) {
      assert.equal(refusal(smp, ['-l', '1', ...v.map((x) => `--vdev=${x}`), '--', '-p', '3', '--num-procs=1', '--proc-id=0']), undefined, v.join(' '));
    }
    // mpdk port attach checks its SPEC the same way, before it looks for the instance.
    oneLine(attach, 2, 'port', 'port attach net_null2,sise=64');
    assert.match(attach.err, /invalid SPEC 'net_null2,sise=64': net_null has no key 'sise'; did you mean size\? \(its keys: size\)/);
    oneLine(afp, 2, 'port', 'port attach net_af_packet2,iface=lo');
    assert.match(afp.err, /invalid SPEC 'net_af_packet2,iface=lo': driver net_af_packet cannot be attached while the instance runs .*; give it to the primary with --vdev\n$/);
    assert.deepEqual(leftovers(p), []);
  });

  test('a value too long to read is quoted by its start and its length, in one short line (a 300-character --file-prefix)', async () => {
    const long = 'a'.repeat(300);
    const want = `invalid --file-prefix '${'a'.repeat(37)}...' (300 characters): it is 300 characters, at most 32; use 1-32 letters, digits, '_', '-' or '.' (not '.' or '..')\n`;
    await each([['info', ['--file-prefix', long]], ['simple_mp', ['-l', '0-1', `--file-prefix=${long}`]], ['dumpcap', ['--file-prefix', long, '-i', '0']]] as const, 3, async ([n, args]) => {
      const r = await run('mpdk', [n, ...args]);
      oneLine(r, 2, n, `${n} --file-prefix (300 characters)`);
      assert.equal(r.err, `${n}: ${want}`);
    });
    const list = '0-1,'.repeat(50);
    const [slash, lcores] = await Promise.all([run('mpdk', ['info', '--file-prefix', 'a/b']), run('mpdk', ['simple_mp', '-l', list])]);
    oneLine(slash, 2, 'info', 'info --file-prefix a/b');
    assert.equal(slash.err, `info: invalid --file-prefix 'a/b': "/" is not allowed; use 1-32 letters, digits, '_', '-' or '.' (not '.' or '..')\n`);
    oneLine(lcores, 2, 'simple_mp', 'simple_mp -l (200 characters)');
    assert.equal(lcores.err, `simple_mp: invalid -l '${list.slice(0, 37)}...' (200 characters): expected a core list such as 0-3,5\n`);
  });

  test('a refusal advises only what works: a program that runs only as the primary is not told to use secondary or auto', async () => {
    const p = uniquePrefix('busy');
    const { eal } = Eal.init(['-l', '5', '--file-prefix', p, ...QUIET], { handleSignals: false });
    const v = ['--vdev=net_ring0', '--vdev=net_ring1', ...QUIET];
    try {
      // Each command line against the live instance, three at a time.
      await each([
        ['l2fwd_fork', ['-l', '0-2', '--file-prefix', p, ...v, '--', '-p', '3']],
        ['mp_server', ['-l', '0', '--file-prefix', p, ...v, '--', '-p', '3', '-n', '1']],
      ].flatMap(([n, args]) => (['', 'secondary', 'auto'] as const).map((type) => [n as string, args as string[], type] as const)), 3, async ([n, args, type]) => {
        const r = await run('mpdk', [n, ...args.slice(0, 2), ...(type ? [`--proc-type=${type}`] : []), ...args.slice(2)]);
        if (type === '') {
          oneLine(r, 1, n, `a second primary ${n}`);
          assert.match(r.err, new RegExp(`pid ${process.pid}\\) is already running .*; ${n} runs only as the primary: stop that process or use another --file-prefix`));
          assert.doesNotMatch(r.err, /--proc-type=secondary or auto/);
        } else if (type === 'secondary') {
          // What it advised against is refused too, each saying so.
          oneLine(r, 2, n, `${n} --proc-type=secondary`);
        } else {
          oneLine(r, 1, n, `${n} --proc-type=auto`);
          assert.match(r.err, new RegExp(`${process.pid}`));
        }
      });
      // A program that does run as a secondary is still told so.
      const smp = await run('mpdk', ['simple_mp', '-l', '0-1', '--file-prefix', p, ...QUIET]);
      oneLine(smp, 1, 'simple_mp', 'a second primary simple_mp');
      assert.match(smp.err, /start this one with --proc-type=secondary or auto/);
    } finally {
      eal.close();
    }
    assert.deepEqual(leftovers(p), []);
  });
});
