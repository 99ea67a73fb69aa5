/**
 * The package as a user gets it: the `./mpdk` launcher of a checkout (the program runs in
 * the launcher's own process, so a signal to what the user started reaches the program),
 * and what `npm pack` ships (the library, its types and declaration maps with their
 * sources, README, LICENSE, CHANGELOG, docs, examples; no tests, no benches).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, leftovers, uniquePrefix } from './helpers.js';

const LAUNCHER = path.join(ROOT, 'mpdk');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-pkg-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

test('./mpdk execs the program: the pid the user started is the program, and SIGTERM to it stops it', async () => {
  const prefix = uniquePrefix('launch');
  // Its own process group, so that the finally below reaps a child a broken launcher would leave.
  const p = spawn(LAUNCHER, ['exporter', '--file-prefix', prefix, '--prometheus', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let cmdline: string[] | undefined;
  // SIGTERM the moment the program says it serves, as a script waiting for that line would:
  // a program that announces itself before its handler exists dies of the signal (exit 'SIGTERM').
  const onData = (d: string): void => {
    out += d;
    if (cmdline === undefined && /serving the metrics of instance/.test(out)) {
      cmdline = fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0');
      p.kill('SIGTERM');
    }
  };
  p.stdout!.setEncoding('utf8').on('data', onData);
  p.stderr!.setEncoding('utf8').on('data', onData);
  const exited = new Promise<number | string>((r) => p.on('exit', (code, sig) => r(code ?? sig!)));
  const killGroup = (): void => {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  const kill = setTimeout(killGroup, 15000); // a safety net: the run below takes ~0.3 s
  try {
    const status = await exited;
    assert.ok(cmdline, `the program said it serves before it ended: ${out}`);
    assert.equal(path.basename(cmdline[0]!), 'node', 'the launcher replaced itself with node (exec), it is not a parent waiting');
    assert.equal(cmdline[1], path.join(ROOT, 'dist/src/cli/mpdk.js'));
    assert.equal(status, 0, out);
  } finally {
    clearTimeout(kill);
    killGroup();
  }
});

test('./mpdk in a checkout that was not built says what to do, exit 1', () => {
  const copy = path.join(scratch, 'mpdk');
  fs.copyFileSync(LAUNCHER, copy);
  const r = spawnSync(copy, ['--help'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^mpdk: not built yet: run 'npm install' \(or 'npm run build'\) in .+ first\n$/);
});

test('npm pack ships the library, types, declaration maps and their sources, README, LICENSE, CHANGELOG, docs, examples; no tests or benches', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, r.stderr);
  const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  for (const f of [
    'LICENSE', 'README.md', 'CHANGELOG.md', 'package.json', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/index.d.ts.map',
    'src/index.ts', 'dist/src/cli/mpdk.js', 'docs/architecture.md', 'examples/README.md', 'examples/messages.ts', 'dist/examples/messages.js',
  ]) assert.ok(files.includes(f), `the tarball has ${f}`);
  assert.deepEqual(files.filter((f) => /^(test|bench|dist\/test|dist\/bench|\.ci)\//.test(f) || f.endsWith('.tgz')), []);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(pkg.license, 'BSD-3-Clause');
  assert.match(fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8'), /^BSD 3-Clause License/);
  assert.deepEqual(pkg.os, ['linux']);
  assert.deepEqual(pkg.allowScripts, { koffi: false }, 'koffi loads its prebuilt binary package: its install script is not needed');
  // The map of a declaration points at a source that ships beside it.
  const map = JSON.parse(fs.readFileSync(path.join(ROOT, 'dist/src/eal/eal.d.ts.map'), 'utf8')) as { sources: string[] };
  assert.equal(path.normalize(path.join('dist/src/eal', map.sources[0]!)), 'src/eal/eal.ts');
});

test('installed from its tarball into a fresh project that denies koffi\'s install script (as the README says): npm says nothing about koffi, and mpdk works', (t) => {
  const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  assert.equal(pack.status, 0, pack.stderr);
  const tgz = path.join(scratch, (JSON.parse(pack.stdout) as { filename: string }[])[0]!.filename);
  const app = path.join(scratch, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', allowScripts: { koffi: false } }));
  // koffi comes from npm's cache (filled by this checkout's own npm install) or the registry.
  const inst = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tgz], { cwd: app, encoding: 'utf8', timeout: 120000 });
  if (inst.status !== 0 && /ENOTFOUND|EAI_AGAIN|ENOTCACHED|ECONNREFUSED/.test(inst.stderr)) return t.skip(`npm cannot reach koffi (no registry, no cache): ${inst.stderr.trim().split('\n')[0]}`);
  assert.equal(inst.status, 0, inst.stderr);
  assert.doesNotMatch(inst.stdout + inst.stderr, /koffi/, 'npm says nothing about koffi');
  // npm 11 names mpdk's own `prepare` for a tarball (it does not run it); the README's second
  // step denies it, and the install is then quiet. Older npm has no such command and no warning.
  const deny = spawnSync('npm', ['install-scripts', 'deny', 'mpdk'], { cwd: app, encoding: 'utf8', timeout: 60000 });
  if (deny.status === 0) {
    const again = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, encoding: 'utf8', timeout: 120000 });
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stdout + again.stderr, /warn|install script/i, 'with the README\'s two denials npm installs quietly');
  } else {
    assert.doesNotMatch(inst.stdout + inst.stderr, /install-scripts/, `npm without 'install-scripts' warns of none: ${deny.stderr.trim().split('\n')[0]}`);
  }
  const prefix = uniquePrefix('pkg');
  const use = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import { Eal, Ring } from 'mpdk';
    const eal = Eal.init({ filePrefix: '${prefix}', memoryMiB: 16 });
    try {
      const ring = Ring.create(eal, 'r', { count: 8 });
      ring.enqueue(42);
      console.log(ring.dequeue());
    } finally {
      eal.close();
    }`], { cwd: app, encoding: 'utf8', timeout: 30000 });
  assert.equal(use.status, 0, use.stderr);
  assert.equal(use.stdout, '42\n');
  assert.equal(use.stderr, '', 'the library prints nothing by default');
  assert.deepEqual(leftovers(prefix), []);
  const bin = spawnSync(path.join(app, 'node_modules/.bin/mpdk'), ['--help'], { encoding: 'utf8', timeout: 30000 });
  assert.equal(bin.status, 0, bin.stderr);
  assert.match(bin.stdout, /simple_mp/);
});
