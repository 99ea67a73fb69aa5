/**
 * `mpdk top` against a running application (test/proc-info-child.ts) while it forwards:
 * one plain frame without a TTY; in a pseudo-terminal (util-linux `script`, as
 * cmdline.test.ts) the screen shows the rates, fits 80×24, switches views on p/r/m/Tab,
 * quits on q, and leaves the terminal as it found it (stty: icanon echo), also when the
 * instance goes away.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { MPDK, leftovers, reapAll, removeInstance, run, sleep, uniquePrefix, until, type Child } from './helpers.js';
import { startApp } from './proc-info-app.js';

const HAVE_SCRIPT = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const ptys = new Set<ChildProcess>();
const prefixes: string[] = [];
function newPrefix(tag: string): string {
  const p = uniquePrefix(tag);
  prefixes.push(p);
  return p;
}

interface Pty {
  raw: string;
  exited: Promise<number>;
  type(s: string): Promise<void>;
  waitFor(re: RegExp, ms?: number): Promise<void>;
}

/** `mpdk top` in an 80×24 pseudo-terminal, then `stty -a` to show the terminal it left. */
function ptyTop(prefix: string): Pty {
  const cmd = `stty cols 80 rows 24; sh -c 'echo TOP-PID=$$; exec ${process.execPath} ${MPDK} top --file-prefix ${prefix} -d 0.5'; echo "TOP-EXIT=$?"; stty -a`;
  const proc = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
  ptys.add(proc);
  const p: Pty = {
    raw: '',
    exited: new Promise((r) => proc.on('exit', (code) => { ptys.delete(proc); r(code ?? -1); })),
    async type(s) { proc.stdin!.write(s); await sleep(100); },
    async waitFor(re, ms = 8000) {
      await until(() => re.test(p.raw), ms, `${re} in the terminal output:\n${JSON.stringify(p.raw.slice(-3000))}`);
    },
  };
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (p.raw += d));
  return p;
}

/** The text of the last full frame: what follows the last cursor-home, without escapes. */
function lastFrame(raw: string): string[] {
  const frames = raw.split('\x1b[H');
  const f = frames.length > 2 ? frames[frames.length - 2]! : frames[frames.length - 1]!;
  return f.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '').split('\r\n').filter((l, i, a) => i < a.length - 1 || l !== '');
}

describe('mpdk top', () => {
  after(async () => {
    for (const p of ptys) p.kill('SIGKILL');
    await reapAll();
    for (const p of prefixes) removeInstance(p); // only left by a failure (each test checks a clean exit)
  });

  test('without a TTY: one frame with the process, its CPU and the port rates', async () => {
    const prefix = newPrefix('top');
    const app = await startApp(prefix, 2);
    const pid = Number(/"ready":(\d+)/.exec(app.out)![1]);
    app.send('flow 15000'); // stopped below, once top has shown it
    await app.waitFor(/"flowing":true/, 10000); // not a fixed 300 ms: top's one interval must see traffic
    const r = await run('mpdk', ['top', '--file-prefix', prefix, '-d', '1'], 15000);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, /\x1b/, 'plain text when piped');
    assert.match(r.out, new RegExp(`^${pid} +primary +pi-child +0 +\\d+\\.\\d `, 'm'));
    const port = /^0 net_ring0 +all +([0-9.]+) +([0-9.]+) +([0-9.]+) +([0-9.]+) +\S+ +\S+$/m.exec(r.out);
    assert.ok(port, r.out);
    assert.ok(Number(port[1]) > 0 && Number(port[3]) > 0, `RX and TX Mpps above 0:\n${r.out}`);
    assert.ok(Number(port[2]) > 0, 'Gbit/s above 0');
    assert.match(r.out, /^ +0 +[0-9.]+/m, 'a line per queue');
    assert.match(r.out, /^ +1 +[0-9.]+/m);
    for (const l of r.out.split('\n')) assert.ok(l.length <= 80, `fits 80 columns: ${l}`);
    const none = await run('mpdk', ['top', '--file-prefix', uniquePrefix('gone'), '--once'], 15000);
    assert.equal(none.code, 1);
    assert.match(none.err, /^top: no instance with --file-prefix=\S+ .*\n$/);
    app.send('stop');
    await app.waitFor(/"flowed":\d+/, 10000);
    app.send('quit');
    assert.equal(await app.exited, 0);
    assert.deepEqual(leftovers(prefix), []);
  });

  test('in a terminal: rates, views on p/r/m/Tab, 80×24, q restores the terminal', { skip: HAVE_SCRIPT ? false : 'util-linux `script` is not installed' }, async () => {
    const prefix = newPrefix('topt');
    const app: Child = await startApp(prefix, 1);
    app.send('flow 20000'); // stopped below, once top has shown it
    const t = ptyTop(prefix);
    await t.waitFor(/\x1b\[\?1049h/);
    await t.waitFor(/0 net_ring0 +all +0\.0*[1-9]/); // a non-zero RX Mpps after the first interval
    const frame = lastFrame(t.raw);
    assert.ok(frame.length <= 24, `at most 24 rows: ${frame.length}\n${frame.join('\n')}`);
    for (const l of frame) assert.ok(l.length <= 80, `at most 80 columns: ${l}`);
    assert.match(frame.join('\n'), /PID +TYPE +NAME/);
    await t.type('r');
    await t.waitFor(/pi_ring +10 +63 \[#*\.*\]/);
    await t.type('m');
    await t.waitFor(/pi_pool +\d+ +4095 \[/);
    await t.type('\t');
    await t.waitFor(/view: ports[^]*PORT +Q +RX Mpps(?![^]*view: mempools)/);
    await t.type('q');
    assert.equal(await t.exited, 0);
    assert.match(t.raw, /TOP-EXIT=0/);
    const after = t.raw.slice(t.raw.lastIndexOf('TOP-EXIT'));
    assert.match(after, /[ ;]icanon /, 'canonical mode is back');
    assert.match(after, /[ ;]echo /, 'echo is back');
    const tail = t.raw.slice(0, t.raw.lastIndexOf('TOP-EXIT'));
    assert.ok(tail.lastIndexOf('\x1b[?1049l') > tail.lastIndexOf('\x1b[?1049h'), 'main screen restored');
    assert.ok(tail.lastIndexOf('\x1b[?25h') > tail.lastIndexOf('\x1b[?25l'), 'cursor shown again');
    app.send('stop');
    await app.waitFor(/"flowed":\d+/, 15000);
    app.send('quit');
    assert.equal(await app.exited, 0);
    assert.deepEqual(leftovers(prefix), []);
  });

  test('in a terminal: SIGTERM ends top (status 143) and restores the terminal', { skip: HAVE_SCRIPT ? false : 'util-linux `script` is not installed' }, async () => {
    const prefix = newPrefix('tops');
    const app = await startApp(prefix, 1);
    const t = ptyTop(prefix);
    await t.waitFor(/PID +TYPE +NAME/);
    const pid = Number(/TOP-PID=(\d+)/.exec(t.raw)![1]);
    process.kill(pid, 'SIGTERM');
    await t.waitFor(/TOP-EXIT=143/);
    assert.equal(await t.exited, 0);
    const tail = t.raw.slice(0, t.raw.lastIndexOf('TOP-EXIT'));
    assert.ok(tail.lastIndexOf('\x1b[?1049l') > tail.lastIndexOf('\x1b[?1049h'), 'main screen restored');
    assert.match(t.raw.slice(t.raw.lastIndexOf('TOP-EXIT')), /[ ;]icanon /);
    app.send('quit');
    assert.equal(await app.exited, 0);
    assert.deepEqual(leftovers(prefix), []);
  });

  test('in a terminal: the instance going away ends top and restores the terminal', { skip: HAVE_SCRIPT ? false : 'util-linux `script` is not installed' }, async () => {
    const prefix = newPrefix('topg');
    const app = await startApp(prefix, 1);
    const t = ptyTop(prefix);
    await t.waitFor(/PID +TYPE +NAME/);
    app.send('quit');
    assert.equal(await app.exited, 0);
    await t.waitFor(/TOP-EXIT=0/);
    assert.equal(await t.exited, 0);
    assert.match(t.raw, /instance '\S+' went away/);
    assert.match(t.raw.slice(t.raw.lastIndexOf('TOP-EXIT')), /[ ;]icanon /);
    assert.deepEqual(leftovers(prefix), []);
  });
});
