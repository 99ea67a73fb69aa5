/**
 * Damaged headers in the shared region (a stray write, a foreign writer): every reader that
 * follows an offset or a length from a ring or mempool header — the views, the audit,
 * `mpdk info`, `mpdk audit`, a secondary's lookup — reports the damage by name (EPROTO
 * "damaged", EIO "corrupt region"), never a RangeError, and the audit says it cannot
 * account rather than "every element accounted for". The test process is the primary and
 * writes pseudo-random words over one header, many seeds in process, then one seed for the
 * programs and a secondary.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Eal, Mempool, MpdkError, PktmbufPool, Ring, RingView, auditInstance, describeAll } from '../src/index.js';
import { RING } from '../src/ring/layout.js';
import { MPH } from '../src/mempool/mempool.js';
import { leftovers, reapAll, run, uniquePrefix } from './helpers.js';

after(reapAll);

const POOL = 'dmg_pool';
const RING_NAME = 'dmg_ring';

/** xorshift32: the same words for the same seed. */
function words(seed: number): () => number {
  let s = seed | 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

function primary(tag: string): { p: string; eal: Eal; pool: PktmbufPool; ring: Ring } {
  const p = uniquePrefix(tag);
  const { eal } = Eal.init(['-l', '1', '--proc-type=primary', '--file-prefix', p, '-m', '64', '--log-level', 'error'], { handleSignals: false });
  const pool = PktmbufPool.create(eal, POOL, { count: 255, cacheSize: 16 });
  const ring = Ring.create(eal, RING_NAME, { count: 64 });
  const buf = new Uint32Array(10);
  assert.equal(pool.allocBulk(buf, 10), 10);
  assert.equal(ring.enqueueBulk(buf, 10), 10);
  return { p, eal, pool, ring };
}

/** `fn` throws an MpdkError whose message matches `re` (a RangeError or a TypeError fails the test). */
function damageError(fn: () => unknown, re: RegExp, what: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MpdkError, `${what}: ${(e as Error).stack}`);
    assert.match(e.message, re, what);
    return;
  }
  assert.fail(`${what}: no error`);
}

/** The views and the describers over a damaged object: errors by name, never a throw of another kind. */
function readEverything(eal: Eal): void {
  const a = auditInstance(eal);
  assert.equal(a.ok, false, 'the audit is not ok');
  const objs = describeAll(eal);
  assert.ok(objs.some((o) => typeof o.error === 'string'), 'the damaged object is described by its error');
}

/** The programs and a secondary against the damaged instance: the damage, by name, never a RangeError. */
async function programs(p: string, name: RegExp, lookup: 'ring' | 'pool'): Promise<void> {
  const audit = await run('mpdk', ['audit', '--file-prefix', p]);
  assert.equal(audit.code, 1, audit.out + audit.err);
  assert.match(audit.out, /cannot account/);
  assert.match(audit.out, name);
  const json = await run('mpdk', ['audit', '--file-prefix', p, '--json']);
  assert.equal(json.code, 1, json.err);
  assert.match((JSON.parse(json.out) as { errors: string[] }).errors.join('\n'), name);
  const info = await run('mpdk', ['info', '--file-prefix', p]);
  assert.equal(info.code, 0, info.err);
  assert.match(info.out, name);
  const pi = await run('mpdk', ['proc-info', '--file-prefix', p, '--json']);
  const sec = lookup === 'ring'
    ? await run('dist/test/ring-child.js', ['-l', '2', '--proc-type=secondary', '--file-prefix', p, '--log-level', 'error', '--', 'sleep', `ring=${RING_NAME}`])
    : await run('dist/test/mempool-child.js', ['-l', '2', '--file-prefix', p, '--', 'hold', POOL, '1', '0']);
  assert.notEqual(sec.code, 0, 'the secondary refuses the damaged object');
  assert.match(sec.err, /damaged|corrupt region/);
  for (const r of [audit, json, info, pi, sec]) assert.doesNotMatch(r.out + r.err, /RangeError|TypeError|Invalid atomic access/);
}

test('a ring whose header is randomised is named as damaged by every reader; the audit cannot account for it', async () => {
  const x = primary('dmgring');
  try {
    const hdr = new Uint32Array(x.eal.region.buffer, x.ring.offset, RING.SLOTS >>> 2);
    const saved = hdr.slice();
    for (let seed = 1; seed <= 100; seed++) {
      const next = words(seed);
      // Odd seeds: the header line after MAGIC and VERSION (geometry, name); even seeds: the
      // index, doorbell, stats and claim lines (a readable ring with impossible indexes).
      const [from, to] = seed % 2 === 1 ? [RING.FLAGS >>> 2, RING.PROD_HEAD >>> 2] : [RING.PROD_HEAD >>> 2, RING.SLOTS >>> 2];
      for (let i = from; i < to; i++) hdr[i] = next();
      if (seed % 2 === 1) {
        damageError(() => Ring.lookup(x.eal, RING_NAME), /ring at offset \d+ (is damaged|has layout)|corrupt region/, `seed ${seed}: lookup`);
        damageError(() => RingView.at(x.eal.region, x.ring.offset), /damaged|corrupt region/, `seed ${seed}: view`);
        readEverything(x.eal);
        assert.match(auditInstance(x.eal).errors.join('\n'), new RegExp(`ring '${RING_NAME}'`));
      } else {
        auditInstance(x.eal); // impossible indexes: counts may be anything, reading must not fail
        describeAll(x.eal);
        RingView.at(x.eal.region, x.ring.offset).forEach(() => {});
      }
      hdr.set(saved);
    }
    assert.equal(auditInstance(x.eal).ok, true, 'restored: every element accounted for');
    const next = words(7);
    for (let i = RING.FLAGS >>> 2; i < RING.PROD_HEAD >>> 2; i++) hdr[i] = next();
    await programs(x.p, new RegExp(RING_NAME), 'ring');
    hdr.set(saved);
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

test('a mempool whose header is randomised is named as damaged by every reader; the audit cannot account for it', async () => {
  const x = primary('dmgpool');
  try {
    const h = x.pool.mp.header;
    const hdr = new Uint32Array(x.eal.region.buffer, h, MPH.NAME >>> 2);
    const saved = hdr.slice();
    for (let seed = 1; seed <= 100; seed++) {
      const next = words(seed);
      // Everything after MAGIC and VERSION up to the name: sizes, offsets, strides.
      for (let i = MPH.N >>> 2; i < MPH.NAME >>> 2; i++) hdr[i] = next();
      damageError(() => Mempool.lookup(x.eal, POOL), /mempool '|ring at offset|no ring can be|corrupt region/, `seed ${seed}: lookup`);
      readEverything(x.eal);
      assert.match(auditInstance(x.eal).errors.join('\n'), new RegExp(`mempool '${POOL}'`));
      hdr.set(saved);
    }
    // An offset beyond the region: the one message every reader gives for it.
    hdr[MPH.RING_OFF >>> 2] = x.eal.region.size + 4096;
    damageError(() => Mempool.lookup(x.eal, POOL), new RegExp(`corrupt region .*mempool '${POOL}': its ring`), 'ring offset beyond the region');
    hdr.set(saved);
    assert.equal(auditInstance(x.eal).ok, true, 'restored: every element accounted for');
    const next = words(3);
    for (let i = MPH.N >>> 2; i < MPH.NAME >>> 2; i++) hdr[i] = next();
    await programs(x.p, new RegExp(POOL), 'pool');
    hdr.set(saved);
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});
