/**
 * The built-in network drivers. The package entry (src/index.ts) registers them with
 * ethdev's registry (src/ethdev/registry.ts) when it loads. To add a driver, write
 * src/drivers/net/<name>.ts exporting a NetDriver (the contract: src/ethdev/driver.ts) and
 * add it to BUILTIN_DRIVERS; nothing else changes.
 */
import type { NetDriver } from '../../ethdev/driver.js';
import { registerDriver } from '../../ethdev/registry.js';
import { netNull } from './null.js';
import { netRing } from './ring.js';
import { netPcap } from './pcap.js';
import { netAfPacket } from './af_packet.js';
import { netMemif } from './memif.js';

export const BUILTIN_DRIVERS: readonly NetDriver[] = [netRing, netNull, netPcap, netAfPacket, netMemif];

/** Register every built-in driver (idempotent). */
export function registerBuiltinDrivers(): void {
  for (const d of BUILTIN_DRIVERS) registerDriver(d);
}
