/**
 * l2fwd_fork's slave process: started only by the master (launcher.ts), as
 *
 *   node slave.js -l <lcore> --proc-type=secondary --file-prefix P [--log-level L] \
 *        -- -p MASK -q N -T PERIOD [-f] [--idle=MODE]
 *   node slave.js --standby <the same without -l>     (a standby: gets {lcore} over IPC)
 *   env  L2FWD_FLOAT_IDS   lcore ids a floating slave may lease (the ids not in the master's -l)
 *   (the master is its Supervisor: joinSupervisor gives its pid and the CPUs it was allowed,
 *   taken first thing, since a fork inherits the master's own pin; the EAL then pins lcores
 *   this machine has, and a slave on an lcore beyond its CPUs, or floating, keeps them)
 *
 * Life cycle (each step's failure exits ≠ 0 before READY, which the master counts as a
 * start-up failure and backs off):
 *   1 parent-death signal (SIGTERM) armed first; if the master is already gone, exit 1
 *   2 attach as a secondary on lcore <lcore>; find the pool, the ports, our RES record,
 *     our command rings and drop ring (all created by the master)
 *   3 -f: drop the CPU affinity, lease a free lcore id X (never using any id before X is
 *     ours), record it in RES.FLOAT_ID, print `Org lcore_id = L, cur lcore_id = X`, and use
 *     X for every per-lcore resource (mempool cache, ring claim records, queue claims)
 *   4 open our ownership record (Hands: everything we hold lives there), claim our RX
 *     queues and the TX queues of their paired ports; tell the master READY
 *   5 forward (forward.ts); the first forwarded packet is told to the master once
 *     ({forwarding: epoch ms}: the recovery's last step); until: STOP on the command ring → flush, free what is left and
 *     the record, release the queues, lcores and process slot, then ACK (our last act in
 *     the region), exit 0;
 *     the master dies (EAL death watcher, or SIGTERM from the parent-death signal) → exit 1
 * Standby (--standby): steps 2.. start when the master sends {lcore} over the IPC channel;
 * until then the process only waits ({standby: 'ready'} once its modules are loaded).
 * The process title (ps -f, /proc/PID/cmdline) says the role: "l2fwd_fork standby slave
 * (master M): <args>", then "l2fwd_fork slave lcore L (master M): -l L <args>".
 * Test hook: MPDK_TEST_HOOK=l2fwd:fail-start:<L> makes the slave of lcore L exit 1 right
 * after attaching (a start-up failure).
 * SIGINT is ignored: a Ctrl-C reaches the whole process group, and the master stops us.
 * Exit always releases our lcore ids and process slot (eal.close on 'exit').
 */
import {
  stderrLogger, Eal, EthDev, Hands, IdlePolicy, MpdkError, PktmbufPool, Ring, UsageError, joinSupervisor, parseArgs, parseIdleMode, parsePortmask, watchDeath, type IdleMode,
} from '../../index.js';
import { Forwarder } from './forward.js';
import { spec } from './options.js'; // the master passes its own options on
import { CMD_ACK, CMD_STOP, CTL, CTL_MAGIC, CTL_MZ, POOL_NAME, RES, RES_MAGIC, TXBUF_CAP, dropName, m2sName, resName, s2mName } from './layout.js';

const TRACE = process.env.L2FWD_TRACE === '1';
if (TRACE) process.on('exit', () => process.stdout.write(`[${Date.now() % 100000}] slave ${process.pid} exit\n`));
const master = joinSupervisor(); // SIGTERM when the master dies
const masterPid = master.supervisorPid;
if (master.orphaned) {
  process.stderr.write(`l2fwd_fork slave: the master (pid ${masterPid}) exited before this slave started; exiting\n`);
  process.exit(1);
}
process.on('SIGINT', () => { /* the master stops us */ });
master.runOnSupervisorCpus(); // not the master's own CPU, which a fork inherits
const HOOK = process.env.MPDK_TEST_HOOK ?? '';

let runAt = 0;
const steps: string[] = [];
const mark = (what: string): void => {
  if (TRACE) steps.push(`${what} +${(performance.now() - runAt).toFixed(1)}`);
};
function run(argv: string[]): void {
  runAt = performance.now();
  process.title = `l2fwd_fork slave lcore ${argv[1]} (master ${masterPid}): ${argv.join(' ')}`;
  const { eal } = Eal.init(argv, { name: 'l2fwd_fork:slave', logger: stderrLogger, handleSignals: true });
  mark('eal');
  if (HOOK === `l2fwd:fail-start:${eal.options.lcores[0]}`) {
    process.stderr.write('MPDK_TEST_HOOK l2fwd:fail-start reached\n');
    process.exit(1);
  }
  process.once('exit', () => eal.close());
  const o = parseArgs(spec, argv);
  const ports = parsePortmask(o.value('-p'));
  const q = o.int('-q', 1, 16) ?? 1;
  const period = o.int('-T', 0, 86400) ?? 10;
  const float = o.has('-f');
  const idleMode: IdleMode = parseIdleMode(o.value('--idle') ?? 'sleep') ?? 'sleep';
  const lcore = eal.options.lcores[0]!;
  const r = eal.region;

  const ctl = eal.memzones.lookup(CTL_MZ).offset;
  if (r.loadAcquire(ctl + CTL.MAGIC) !== CTL_MAGIC) throw new MpdkError('ENOENT', `instance '${eal.filePrefix}' has no l2fwd_fork master state`);
  const mask = ports.reduce((m, p) => m | (1 << p), 0) >>> 0;
  if (r.u32At(ctl + CTL.PORTMASK) !== mask || r.u32At(ctl + CTL.Q) !== q || r.u32At(ctl + CTL.FLOAT) !== (float ? 1 : 0)) {
    throw new MpdkError('EINVAL', `slave options -p ${mask.toString(16)} -q ${q}${float ? ' -f' : ''} differ from the master's`);
  }
  const res = eal.memzones.lookup(resName(lcore)).offset;
  if (r.u32At(res + RES.MAGIC) !== RES_MAGIC || r.u32At(res + RES.LCORE) !== lcore) throw new MpdkError('ENOENT', `no l2fwd_fork resources for lcore ${lcore}`);
  const nrx = r.u32At(res + RES.NRX);
  const rxPorts: number[] = [];
  const dstPorts: number[] = [];
  for (let i = 0; i < nrx; i++) {
    rxPorts.push(r.u32At(res + RES.RX_PORTS + 4 * i));
    dstPorts.push(r.u32At(res + RES.DST_PORTS + 4 * i));
  }
  process.stdout.write(`l2fwd_fork slave lcore ${lcore} (pid ${process.pid}): portmask ${mask.toString(16)}, -q ${q}, -T ${period}${float ? ', -f' : ''}; rx ports ${rxPorts.join(',')} -> tx ports ${dstPorts.join(',')}\n`);

  if (float) {
    master.runOnSupervisorCpus();
    const candidates = (process.env.L2FWD_FLOAT_IDS ?? '').split(',').filter((s) => s !== '').map(Number);
    // Until the lease succeeds we keep running as lcore `lcore` (ours): no shared id (T8).
    const x = eal.lcoreTable.lease(candidates, eal.slot);
    if (x < 0) {
      process.stderr.write(`l2fwd_fork slave lcore ${lcore}: no free floating lcore id (all ${candidates.length} of ${fmtIds(candidates)} are leased)\n`);
      process.exit(3);
    }
    r.i32[(res + RES.FLOAT_ID) >>> 2] = x;
    eal.lcoreId = x;
    process.stdout.write(`Org lcore_id = ${lcore}, cur lcore_id = ${x}\n`);
  }

  mark('checks');
  const dev = EthDev.attach(eal);
  mark('ethdev');
  PktmbufPool.lookup(eal, POOL_NAME); // checks the pool exists; we put only at exit (what the ports refused)
  const m2s = Ring.lookup(eal, m2sName(lcore));
  const s2m = Ring.lookup(eal, s2mName(lcore));
  const drop = Ring.lookup(eal, dropName(lcore));
  // Opened after the lease: the record names the lcore id we run as (our caches, claim lines).
  mark('lookups');
  const hands = Hands.open(eal, `l2fwd_fork:${lcore}`, nrx, TXBUF_CAP); // a TX buffer per RX port (forward.ts)
  mark('hands');
  const fwd = new Forwarder(eal, dev, hands, rxPorts, dstPorts, drop, r.u32At(ctl + CTL.PORT_STAT));
  mark('forwarder');
  const idle = new IdlePolicy({ mode: idleMode, wake: [...fwd.rxQueues, m2s] }); // sleeps on the RX rings and the master's, when idle
  const cmd = new Uint32Array(4);
  let stopping = false;

  // The ACK is the last thing this process does in the region: after it the master
  // reclaims and relaunches without waiting for the exit (queues, lcores already released).
  const finish = (code: number, why: string): void => {
    if (stopping) return;
    stopping = true;
    const left = fwd.drainAll(100);
    hands.close(); // what the ports would not take goes back to the pool, then the record
    try {
      dev.close();
    } catch {
      /* the ports' lock is robust; never block an exit */
    }
    if (float) r.i32[(res + RES.FLOAT_ID) >>> 2] = -1;
    process.stdout.write(`${TRACE ? `[${Date.now() % 100000}] ` : ""}l2fwd_fork slave lcore ${lcore} (pid ${process.pid}): ${why}; forwarded ${fwd.forwarded}${left ? `, ${left} mbufs the ports would not take freed` : ''}\n`);
    eal.close();
    if (code === 0) {
      cmd[0] = CMD_ACK;
      s2m.enqueueBulk(cmd, 1);
    }
    process.exit(code);
  };
  process.on('SIGTERM', () => finish(143, 'SIGTERM'));
  eal.onPrimaryExit((pid) => finish(1, `the master (pid ${pid}) exited`));

  if (process.send) process.send({ ready: lcore, pid: process.pid, floatId: eal.lcoreId });
  if (process.env.L2FWD_TRACE === '1') process.stdout.write(`l2fwd_fork slave lcore ${lcore}: ready ${Math.round(performance.now() - runAt)} ms after its command line (${Math.round(runAt)} ms after its start): ${steps.join(', ')}\n`);

  let toldForwarding = false;
  const tick = (): void => {
    let now = performance.now();
    const end = now + 4;
    let rounds = 0;
    while (!stopping) {
      const got = fwd.round(now);
      if (got > 0) {
        idle.busy();
        if ((++rounds & 7) !== 0) continue; // the clock every 8 busy rounds (< 10 µs: the drain period is 100)
      } else idle.idle();
      now = performance.now();
      if (got === 0 || (rounds & 63) === 0) {
        if (m2s.dequeueBurst(cmd, 4) > 0 && cmd[0] === CMD_STOP) {
          finish(0, 'STOP from the master');
          return;
        }
        if (now >= end) break;
      }
    }
    if (!toldForwarding && fwd.firstAt > 0) {
      toldForwarding = true;
      process.send?.({ forwarding: fwd.firstAt });
    }
    if (!stopping) setImmediate(tick);
  };
  setImmediate(tick);
}

function fmtIds(ids: readonly number[]): string {
  return ids.length > 6 ? `${ids[0]}..${ids[ids.length - 1]}` : ids.join(',');
}

function start(argv: string[]): void {
  try {
    run(argv);
  } catch (e) {
    const msg = e instanceof MpdkError || e instanceof UsageError ? e.message : (e as Error).stack ?? String(e);
    process.stderr.write(`l2fwd_fork slave: ${msg}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  }
}

/**
 * A standby's rehearsal: attach read-only (Eal.observe), look the master's objects up,
 * leave. V8 compiles functions at their first call; this moves the region, memzone and
 * ring code's first calls out of the recovery (measured: a promoted slave's Eal.init
 * 7 ms instead of 12, on a loaded 2-core machine). Any failure here is irrelevant.
 */
function warmUp(common: string[]): void {
  const i = common.indexOf('--file-prefix');
  if (i < 0) return;
  try {
    const o = Eal.observe(common[i + 1]!, { logLevel: 'error' });
    try {
      o.memzones.lookup(CTL_MZ);
      PktmbufPool.lookup(o, POOL_NAME);
      Ring.lookup(o, dropName(Number(o.region.u32At(o.memzones.lookup(CTL_MZ).offset + CTL.SLAVES))));
    } finally {
      o.release(); // a standby may wait long: it keeps no mapping of the region meanwhile
    }
  } catch {
    /* a rehearsal only */
  }
}

// A standby has paid Node's start-up and module loading already and waits, idle, for the
// master to give it its lcore: recovery does not wait for them.
const argv = process.argv.slice(2);
if (argv[0] === '--standby') {
  const common = argv.slice(1);
  process.title = `l2fwd_fork standby slave (master ${masterPid}): ${common.join(' ')}`;
  const quit = (): never => process.exit(0); // nothing to release yet
  watchDeath(masterPid, 0, quit); // a standby leaves with the master
  process.on('SIGTERM', quit);
  process.once('message', (m: { lcore?: number; args?: string[] }) => {
    process.off('SIGTERM', quit);
    start([...(m.args ?? ['-l', String(m.lcore ?? -1)]), ...common]);
  });
  warmUp(common);
  process.send?.({ standby: 'ready' });
} else {
  start(argv);
}
