/**
 * Every shared object can describe itself for tools (info, proc-info, top). A layer
 * that owns a kind of object (rings, mempools, ports) registers a describer here; tools
 * call `describeAll` and print what comes back.
 */
import type { Eal } from './eal.js';

/**
 * A shared object as tools show it (`describeAll`): its kind (`'ring'`, `'mempool'`, `'port'`...), its name, and kind-specific fields.
 */
export interface ObjectDescription {
  /** The kind of object (`'ring'`, `'mempool'`, `'port'`...). */
  kind: string;
  /** Its name. */
  name: string;
  [field: string]: unknown;
}

type Describer = (eal: Eal) => ObjectDescription[];
const describers = new Map<string, Describer>();

/**
 * Register how the objects of one `kind` describe themselves for tools (`describeAll`); a second
 * registration of a kind replaces the first. Layers call it when the package loads.
 */
export function registerDescriber(kind: string, fn: Describer): void {
  describers.set(kind, fn);
}

/**
 * Every shared object of the instance that a registered describer finds (rings, pools, ports...),
 * as tools print them. Read-only.
 */
export function describeAll(eal: Eal): ObjectDescription[] {
  const out: ObjectDescription[] = [];
  for (const fn of describers.values()) out.push(...fn(eal));
  return out;
}

/** The objects of one kind ('port', 'ring', 'mempool', 'mbuf_pool'...); [] for a kind nobody describes. */
export function describeKind(eal: Eal, kind: string): ObjectDescription[] {
  return describers.get(kind)?.(eal) ?? [];
}
