/**
 * The network driver registry: driver name → NetDriver (interface: src/ethdev/driver.ts).
 * EthDev looks a --vdev's driver up here (`net_ring0` → `net_ring`). To add a driver,
 * write src/drivers/net/<name>.ts exporting a NetDriver and add one line to BUILTIN;
 * a program can also register its own with `registerDriver` before EthDev.attach.
 */
import { MpdkError } from '../../eal/errors.js';
import type { NetDriver } from '../../ethdev/driver.js';
import { netNull } from './null.js';
import { netRing } from './ring.js';
import { netPcap } from './pcap.js';
import { netAfPacket } from './af_packet.js';
import { netMemif } from './memif.js';

const BUILTIN: readonly NetDriver[] = [netRing, netNull, netPcap, netAfPacket, netMemif];

const drivers = new Map<string, NetDriver>(BUILTIN.map((d) => [d.name, d]));

/** Add a driver (EEXIST when the name is taken). */
export function registerDriver(d: NetDriver): void {
  if (drivers.has(d.name)) throw new MpdkError('EEXIST', `a network driver named '${d.name}' is already registered`);
  drivers.set(d.name, d);
}

/** The driver called `name`; ENODEV naming the known ones when there is none. */
export function findDriver(name: string): NetDriver {
  const d = drivers.get(name);
  if (!d) throw new MpdkError('ENODEV', `no network driver '${name}'; known drivers: ${[...drivers.keys()].join(', ')} (a --vdev name is the driver's name plus a number, e.g. net_ring0)`);
  return d;
}

export function driverNames(): string[] {
  return [...drivers.keys()];
}
