/**
 * The network driver registry: driver name → NetDriver (the contract: driver.ts). EthDev
 * finds a --vdev's driver here (`net_ring0` → driver `net_ring`), and so do the read-only
 * walks of the port table (table.ts) when they ask a driver about its queues. It lives with
 * ethdev so that ethdev depends on no driver: the package entry (src/index.ts) registers
 * the built-in ones (src/drivers/net/index.ts); a program registers its own with
 * `registerDriver` before EthDev.attach.
 */
import { MpdkError } from '../eal/errors.js';
import type { NetDriver } from './driver.js';

const drivers = new Map<string, NetDriver>();

/** Add a driver. Registering the same driver object again does nothing; another driver of a taken name is EEXIST. */
export function registerDriver(d: NetDriver): void {
  const have = drivers.get(d.name);
  if (have === d) return;
  if (have) throw new MpdkError('EEXIST', `a network driver named '${d.name}' is already registered`);
  drivers.set(d.name, d);
}

/** The driver called `name`; ENODEV naming the known ones when there is none. */
export function findDriver(name: string): NetDriver {
  const d = drivers.get(name);
  if (!d) throw new MpdkError('ENODEV', `no network driver '${name}'; known drivers: ${[...drivers.keys()].join(', ') || 'none (import the package entry, which registers the built-in ones)'} (a --vdev name is the driver's name plus a number, e.g. net_ring0)`);
  return d;
}

/** The driver called `name`, or undefined (a port probed by a program that registered a driver this process lacks). */
export function tryFindDriver(name: string): NetDriver | undefined {
  return drivers.get(name);
}

/** The names of the registered network drivers (`net_ring`, `net_pcap`, ...). */
export function driverNames(): string[] {
  return [...drivers.keys()];
}
