/**
 * The port table (memzone ETHDEV_DATA, layout.ts) as any process reads it, a read-only
 * observer included (`mpdk info`, `mpdk audit`): the ports, checked once (`portTable`),
 * and every queue with its owner and the ring its driver says backs it (`portQueues`),
 * which is what crash recovery and the audit need from the ports. Nothing here writes.
 *
 * The table's size comes from its own header (NB_PORTS, PORT_STRIDE): it is checked
 * against this code's layout and the region before any entry is read, so a damaged table
 * is an error naming it (EPROTO, or EIO "corrupt region"), never a read outside the region.
 */
import type { Eal } from '../eal/eal.js';
import { MpdkError } from '../eal/errors.js';
import { Port } from './driver.js';
import { ED, EP, EP_STRIDE, EQ, ETHDEV_MAGIC, ETHDEV_MZ, ETHDEV_VERSION, HP_ATTACH, MAX_PORTS, MAX_QUEUES, PortState } from './layout.js';
import { tryFindDriver } from './registry.js';

/**
 * Check the table header at `header` (its MAGIC already seen): this code's layout, at most
 * MAX_PORTS ports, all inside the region. Returns the number of ports.
 */
export function checkPortTable(eal: Eal, header: number): number {
  const r = eal.region;
  const ver = r.u32At(header + ED.VERSION);
  if (ver !== ETHDEV_VERSION || r.u32At(header + ED.MAX_QUEUES) !== MAX_QUEUES || r.u32At(header + ED.PORT_STRIDE) !== EP_STRIDE) {
    throw new MpdkError('EPROTO', `the ports of instance '${eal.filePrefix}' have layout version ${ver}; this code reads ${ETHDEV_VERSION}: run the same mpdk in every process`);
  }
  const n = r.u32At(header + ED.NB_PORTS);
  if (n > MAX_PORTS) throw new MpdkError('EPROTO', `the port table of instance '${eal.filePrefix}' is damaged: it says ${n} ports, at most ${MAX_PORTS} exist`);
  r.checkSpan(header, ED.BYTES + MAX_PORTS * EP_STRIDE, `the port table (${n} ports)`);
  return n;
}

/**
 * Is entry `id` of the table at `header` a port now: not UNUSED (never attached, or
 * detached), and not being attached (hidden until the attach commits, or is undone: hotplug.ts).
 */
export function portPresent(eal: Eal, header: number, id: number): boolean {
  const r = eal.region;
  if (r.loadAcquire(header + ED.BYTES + id * EP_STRIDE + EP.STATE) === PortState.UNUSED) return false;
  return !(r.i32[(header + ED.HP_PID) >>> 2] !== 0 && r.u32At(header + ED.HP_OP) === HP_ATTACH && r.i32[(header + ED.HP_PORT) >>> 2] === id);
}

/**
 * The ports of the instance now, read-only, by id (ids of detached ports are missing:
 * `find((p) => p.id === id)`); undefined when the primary has not probed them (no
 * ETHDEV_DATA, or not finished). EPROTO / EIO for a damaged table (checkPortTable).
 */
export function portTable(eal: Eal): Port[] | undefined {
  const mz = eal.memzones.tryLookup(ETHDEV_MZ);
  if (!mz || eal.region.loadAcquire(mz.offset + ED.MAGIC) !== ETHDEV_MAGIC) return undefined;
  const n = checkPortTable(eal, mz.offset);
  const out: Port[] = [];
  for (let i = 0; i < n; i++) if (portPresent(eal, mz.offset, i)) out.push(new Port(eal, mz.offset, i));
  return out;
}

/** One queue of a port as recovery and the audit see it (read-only, a snapshot). */
export interface QueueView {
  /** The port number. */
  port: number;
  /** An RX queue (true) or a TX queue. */
  rx: boolean;
  /** The queue's number. */
  q: number;
  /** Set up since the last configure. */
  setUp: boolean;
  /** Region offset of the ring behind the queue (its driver's answer: NetDriver.queueRing); 0 = none. */
  ring: number;
  /** The process using it (0 = none), its lcore and start time (pid reuse). */
  owner: number;
  /** The owner's lcore. */
  ownerLcore: number;
  /** The owner's start time (clock ticks since boot). */
  ownerStart: number;
}

/**
 * Every queue entry of every port (all MAX_QUEUES per direction: a queue dropped by a
 * reconfigure may still have its ring), with its owner and its ring. [] without ports.
 */
export function portQueues(eal: Eal): QueueView[] {
  const out: QueueView[] = [];
  for (const p of portTable(eal) ?? []) {
    const drv = tryFindDriver(p.driverName);
    for (const rx of [true, false]) {
      for (let q = 0; q < MAX_QUEUES; q++) {
        const e = p.queue(rx, q);
        out.push({
          port: p.id, rx, q, setUp: p.u32[(e + EQ.STATE) >>> 2] !== 0, ring: drv?.queueRing?.(p, rx, q) ?? 0,
          owner: p.i32[(e + EQ.OWNER_PID) >>> 2]!, ownerLcore: p.i32[(e + EQ.OWNER_LCORE) >>> 2]!, ownerStart: p.f64[(e + EQ.OWNER_START) >>> 3]!,
        });
      }
    }
  }
  return out;
}
