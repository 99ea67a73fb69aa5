/**
 * The public face (src/index.ts) is chosen, not accumulated: the programs import nothing
 * but the package entry; the entry exports no table of mpdk's own shared-memory layouts,
 * no libc call and nothing of the command-line layer; 'mpdk/internal' holds those, and
 * package.json says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as face from '../src/index.js';
import * as internal from '../src/internal.js';
import * as libc from '../src/native/libc.js';
import { ROOT } from './helpers.js';

/** Program files that still reach into a layer (none since listInstances/cleanupInstance). */
const PENDING = new Set<string>();

function tsFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
}

test('the programs in src/apps import nothing of the library but the package entry', () => {
  const bad: string[] = [];
  for (const f of tsFiles('src/apps')) {
    const src = fs.readFileSync(path.join(ROOT, f), 'utf8');
    for (const m of src.matchAll(/(?:import|export)\s[^;]*?from\s+'([^']+)'/g)) {
      const spec = m[1]!;
      if (spec.startsWith('node:')) continue;
      const target = path.normalize(path.join(path.dirname(f), spec));
      if (target === 'src/index.js' || target.startsWith('src/apps/')) continue;
      if (!PENDING.has(f)) bad.push(`${f}: ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

/** Standard formats, fixed by their specifications, not by mpdk: their byte layouts are API. */
const STANDARD_LAYOUTS = new Set(['ETH', 'ETHERTYPE', 'IPPROTO', 'IPV4', 'IPV6', 'UDP', 'TCP', 'PAYLOAD', 'PCAP', 'PCAP_REC', 'RSS_HF']);

test('the entry exports no layout table of mpdk, no libc call and nothing of the command-line layer', () => {
  const tables = Object.entries(face).filter(([name, v]) =>
    /^[A-Z][A-Z0-9_]*$/.test(name) && typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) &&
    Object.values(v).every((x) => typeof x === 'number')).map(([name]) => name);
  assert.deepEqual(tables.filter((n) => !STANDARD_LAYOUTS.has(n)), [], 'tables of offsets belong to their layer (mpdk/internal for tests)');
  const fromLibc = Object.entries(face).filter(([, v]) => typeof v === 'function' && Object.values(libc).includes(v as never)).map(([n]) => n);
  assert.deepEqual(fromLibc, [], 'libc calls are not API');
  assert.equal('reportAndExit' in face, false);
  assert.doesNotMatch(fs.readFileSync(path.join(ROOT, 'src/index.ts'), 'utf8'), /from '\.\/cli\//);
  // What left the entry is still there for the library's own tests, behind the internal subpath.
  for (const n of ['RING', 'MPH', 'MPC', 'EH', 'MBUF', 'ED', 'EP', 'EQ', 'CAPH', 'HANDS', 'HARR', 'setParentDeathSignal', 'setAffinity', 'processStartTime']) {
    assert.ok(n in internal, `mpdk/internal has ${n}`);
    assert.equal(n in face, false, `${n} is not in the entry`);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { default: string }> };
  assert.deepEqual(Object.keys(pkg.exports), ['.', './internal']);
  assert.equal(pkg.exports['./internal']!.default, './dist/src/internal.js');
  assert.match(fs.readFileSync(path.join(ROOT, 'src/internal.ts'), 'utf8'), /NO STABILITY PROMISE/);
});
