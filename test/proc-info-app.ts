/**
 * Shared by the proc-info, top and dumpcap tests: start the small application of
 * test/proc-info-child.ts and drive it.
 */
import assert from 'node:assert/strict';
import { spawnNode, type Child } from './helpers.js';

const CHILD = 'dist/test/proc-info-child.js';

/** A running instance (`eal`: more EAL options); resolves once it is ready. */
export async function startApp(prefix: string, queues: number, eal: string[] = []): Promise<Child> {
  const c = spawnNode(CHILD, ['-l', '0', '--file-prefix', prefix, '--proc-type=primary', '--log-level', 'error', '--vdev', 'net_ring0', ...eal, '--', String(queues)]);
  await c.waitFor(/"ready":\d+/, 15000);
  return c;
}

/** Send `n` frames of `size` bytes through the app; resolves when it reports them collected. */
export async function send(c: Child, n: number, size: number, file = ''): Promise<void> {
  const before = (c.out.match(/"sent":/g) ?? []).length;
  c.send(`send ${n} ${size} ${file}`.trim());
  const re = new RegExp(`(?:"sent":\\d+,"collected":\\d+[^]*){${before + 1}}`);
  await c.waitFor(re, 10000);
  const all = [...c.out.matchAll(/"sent":(\d+),"collected":(\d+)/g)];
  const last = all[all.length - 1]!;
  assert.equal(Number(last[2]), n, `the app forwarded every packet: ${c.out}`);
}

