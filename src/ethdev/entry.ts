/**
 * A port entry's first values (layout.ts's EP), written where a port is born: the primary's
 * probe of its --vdev options (ethdev.ts) and an attach while the instance runs
 * (hotplug.ts); and its clearing when it is detached. The writer holds the entry alone:
 * nobody else can see it yet (probe: before ETHDEV_DATA's MAGIC; attach: while the
 * transaction hides it), or any more (detach: STATE is UNUSED).
 */
import type { Region } from '../eal/region.js';
import { portMac } from '../net/packet.js';
import { RETA_SIZE_DEFAULT, RSS_HF, RSS_KEY_DEFAULT } from '../net/rss.js';
import { EP, EP_STRIDE, entryAt, PortState } from './layout.js';
import type { VdevInfo } from './driver.js';

/** Fill entry v.port of the table at `header` for a new port of v's driver and devargs; STATE PROBED. */
export function writeEntry(r: Region, header: number, v: VdevInfo): void {
  const e = entryAt(header, v.port);
  r.writeString(e + EP.NAME, EP.NAME_MAX, v.name);
  r.writeString(e + EP.DRIVER, 32, v.driver);
  r.writeString(e + EP.DEVARGS, EP.DEVARGS_MAX, v.args.text);
  r.u8.set(portMac(v.port), e + EP.MAC);
  r.u32[(e + EP.LINK_SPEED) >>> 2] = 10000;
  r.u32[(e + EP.MTU) >>> 2] = 1500;
  r.u32[(e + EP.RSS_HF) >>> 2] = RSS_HF.ALL;
  r.u32[(e + EP.RETA_SIZE) >>> 2] = RETA_SIZE_DEFAULT;
  r.u8.set(RSS_KEY_DEFAULT, e + EP.RSS_KEY);
  r.u32[(e + EP.STATE) >>> 2] = PortState.PROBED;
}

/**
 * Zero entry `id` (a detached port: its name, driver words, queues, owners and counters),
 * keeping GEN and EPOCH counting up (each bumped once more), and STATE UNUSED. Processes
 * that kept anything of the old port see EPOCH move and drop it.
 */
export function clearEntry(r: Region, header: number, id: number): void {
  const e = entryAt(header, id);
  const gen = r.u32[(e + EP.GEN) >>> 2]!;
  const epoch = r.u32[(e + EP.EPOCH) >>> 2]!;
  r.storeRelease(e + EP.STATE, PortState.UNUSED);
  r.u8.fill(0, e + 4, e + EP_STRIDE);
  r.u32[(e + EP.GEN) >>> 2] = (gen + 1) >>> 0;
  r.u32[(e + EP.EPOCH) >>> 2] = (epoch + 1) >>> 0;
}
