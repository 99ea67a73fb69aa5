/**
 * The --vdev specs of a command line checked when it is parsed, before any instance is
 * touched (DPDK's EAL refuses an unknown vdev driver in rte_eal_init, whatever the program):
 * the driver is a registered one, every key is one it declares (NetDriver.args), no key is
 * given twice, no port name twice, and the values it can check without opening anything
 * pass its checkArgs. What needs the system (a pcap file, an interface, a socket) is the
 * probe's, at run time.
 *
 * Every refusal is a UsageError of one line (exit status 2) naming the bad word and what
 * is valid. With no driver registered (the package entry was not loaded) there is nothing
 * to check against: the probe refuses then, as before.
 */
import { MpdkError, UsageError } from '../eal/errors.js';
import { nearest, quoteValue } from '../eal/option-words.js';
import { parseVdev, type VdevInfo } from './driver.js';
import { driverNames, tryFindDriver } from './registry.js';

/**
 * Check `specs` (EalOptions.vdevs, or one `mpdk port attach` SPEC) against the registered
 * drivers. `what` names where they came from in the message ('--vdev'). `whole`: the specs
 * are every port the instance will have, numbered in their order (a primary's command line),
 * so checks between ports apply; false for a port added to others (`mpdk port attach`).
 * @throws UsageError naming the bad driver, key or value, with the valid ones.
 */
export function checkVdevs(specs: readonly string[], what = '--vdev', whole = true): void {
  const known = driverNames();
  if (known.length === 0) return;
  const names = new Set<string>();
  const infos: VdevInfo[] = [];
  const checks: (() => void)[] = [];
  for (const spec of specs) {
    const shown = quoteValue(spec, 60); // a spec with its files is often longer than 40
    let parsed: ReturnType<typeof parseVdev>;
    try {
      parsed = parseVdev(spec);
    } catch (e) {
      throw asUsage(e, what, shown);
    }
    const d = tryFindDriver(parsed.driver);
    if (!d) {
      const guess = nearest(parsed.driver, known);
      throw new UsageError(`invalid ${what} ${shown}: no driver '${parsed.driver}'${guess ? `; did you mean ${guess}?` : ''} (drivers: ${known.join(', ')}; the name is the driver's plus a number, e.g. net_ring0)`);
    }
    const keys = Object.keys(d.args);
    for (const key of parsed.args.map.keys()) {
      if (Object.prototype.hasOwnProperty.call(d.args, key)) continue;
      const guess = nearest(key, keys);
      throw new UsageError(`invalid ${what} ${shown}: ${d.name} has no key '${key}'${guess ? `; did you mean ${guess}?` : ''} (its keys: ${keys.join(', ') || 'none'})`);
    }
    if (names.has(parsed.name)) throw new UsageError(`invalid ${what} ${shown}: ${parsed.name} is given twice; each port needs its own name (net_ring0, net_ring1, ...)`);
    names.add(parsed.name);
    const { name, args } = parsed;
    infos.push({ port: infos.length, name, driver: d.name, args });
    checks.push(() => {
      try {
        d.checkArgs?.(name, args, whole ? infos : undefined);
      } catch (e) {
        throw asUsage(e, what, shown);
      }
    });
  }
  // The values last, each port seeing all the others (a peer named by its id), as probe does.
  for (const check of checks) check();
}

/** A driver's EINVAL as the command line's refusal; anything else is a bug and goes on. */
function asUsage(e: unknown, what: string, shown: string): unknown {
  if (!(e instanceof MpdkError) || e.code !== 'EINVAL') return e;
  // The drivers' messages begin "--vdev NAME: ..." or "--vdev 'SPEC': ...": keep what follows.
  const m = /^--vdev [^:]*: (.*)$/s.exec(e.message);
  return new UsageError(`invalid ${what} ${shown}: ${m ? m[1] : e.message}`);
}
