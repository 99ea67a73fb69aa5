/**
 * Cmdline (src/cmdline/cmdline.ts): parsing, help, errors, ordering and end of input on
 * in-memory streams (the not-a-TTY path); a real process on a pipe; and the TTY path
 * (line editing, completion, history, prints that keep the typed line, Ctrl-C/Ctrl-D)
 * inside a pseudo-terminal made by util-linux `script`, checked on an emulated screen.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Cmdline, parseLine, type Command, type CloseReason } from '../src/index.js';
import { isMpdkError } from '../src/eal/errors.js';
import { exitedWithin, ROOT, reapAll, sleep, spawnNode, until } from './helpers.js';

const PROMPT = 'simple_mp > ';
const FIXTURE = path.join(ROOT, 'dist/test/cmdline-fixture.js');

interface Rig {
  cl: Cmdline;
  input: PassThrough;
  /** Everything written so far. */
  out(): string;
  closed: Promise<CloseReason>;
}

/** A started Cmdline on in-memory streams (not a TTY), with `send` recording its argument. */
function rig(extra: Command[] = [], opts: { echo?: boolean } = {}): Rig & { sent: string[] } {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  output.setEncoding('utf8').on('data', (d: string) => (text += d));
  const sent: string[] = [];
  const cl: Cmdline = new Cmdline({
    prompt: PROMPT, input, output, echo: opts.echo,
    commands: [
      { name: 'send', args: '<string>', help: 'send a string to the other process', run: (s) => void sent.push(s) },
      { name: 'quit', help: 'close the application', run: () => cl.close() },
      ...extra,
    ],
  });
  const closed = new Promise<CloseReason>((r) => cl.once('close', r));
  cl.start();
  return { cl, input, out: () => text, closed, sent };
}

/** Feed lines and end the input; resolves with the close reason and the output. */
async function script(r: Rig, lines: string[]): Promise<{ reason: CloseReason; out: string }> {
  r.input.end(lines.map((l) => l + '\n').join(''));
  let late: NodeJS.Timeout | undefined;
  const reason = await Promise.race([r.closed, new Promise<never>((_, no) => (late = setTimeout(() => no(new Error(`no close; output:\n${r.out()}`)), 3000)))])
    .finally(() => clearTimeout(late)); // a pending bound would hold the file open after its last test
  await sleep(0); // let the output stream deliver
  return { reason, out: r.out() };
}

describe('Cmdline on pipes (not a TTY)', () => {
  test('a line splits into the command name and the exact rest', () => {
    assert.deepEqual(parseLine('  send  a  b  '), { name: 'send', rest: 'a  b  ' });
    assert.deepEqual(parseLine('quit'), { name: 'quit', rest: '' });
    assert.deepEqual(parseLine('send\tx'), { name: 'send', rest: 'x' });
    assert.equal(parseLine('   '), null);
    assert.equal(parseLine(''), null);
  });

  test('send receives the rest of the line exactly, inner/trailing spaces and non-ASCII included', async () => {
    const r = rig();
    await script(r, ['send hello_secondary', 'send  héllo  wörld ✓ 日本 ', 'send a\u00a0b']);
    assert.deepEqual(r.sent, ['hello_secondary', 'héllo  wörld ✓ 日本 ', 'a\u00a0b']);
  });

  test('help lists every command with its help text, and help <name> describes one', async () => {
    const r = rig();
    const { out } = await script(r, ['help', 'help send']);
    assert.match(out, /commands:\n {2}send <string> +send a string to the other process\n {2}quit +close the application\n {2}help \[command\] +list the commands/);
    assert.match(out, /send <string>: send a string to the other process\n/);
  });

  test('an unknown command prints a one-line hint and the next line still runs', async () => {
    const r = rig();
    const { out, reason } = await script(r, ['sned x', 'send y']);
    assert.match(out, /unknown command 'sned'; type help\n/);
    assert.deepEqual(r.sent, ['y']);
    assert.equal(reason, 'eof');
  });

  test('an empty or blank line runs nothing and shows the prompt again', async () => {
    const r = rig();
    const { out } = await script(r, ['', '   ', '\t']);
    assert.equal(out, PROMPT.repeat(4) + '\n');
    assert.deepEqual(r.sent, []);
  });

  test('a command that throws or rejects prints error: <message> and the next line runs', async () => {
    const r = rig([
      { name: 'boom', help: 'throws', run: () => { throw new Error('kaboom'); } },
      { name: 'later-boom', help: 'rejects', run: async () => { await sleep(5); throw new Error('late kaboom'); } },
    ]);
    const { out } = await script(r, ['boom', 'later-boom', 'send after']);
    assert.match(out, /error: kaboom\n/);
    assert.match(out, /error: late kaboom\n/);
    assert.deepEqual(r.sent, ['after']);
  });

  test('a missing required argument or an argument to a command that takes none prints the usage and runs nothing', async () => {
    const r = rig();
    const { out, reason } = await script(r, ['send', 'send   ', 'quit now']);
    assert.match(out, /'send' needs an argument; usage: send <string>\n/);
    assert.match(out, /'quit' takes no argument; usage: quit\n/);
    assert.deepEqual(r.sent, []);
    assert.equal(reason, 'eof'); // quit did not run
  });

  test('async commands run strictly in arrival order when the input arrives all at once', async () => {
    const order: string[] = [];
    const r = rig([{
      name: 'slow', args: '<ms tag>', help: 'async',
      run: async (rest) => {
        const [ms, tag] = rest.split(' ');
        order.push(`start ${tag}`);
        await sleep(Number(ms));
        order.push(`end ${tag}`);
      },
    }]);
    await script(r, ['slow 30 a', 'slow 1 b', 'send c', 'slow 10 d']);
    assert.deepEqual(order, ['start a', 'end a', 'start b', 'end b', 'start d', 'end d']);
    assert.deepEqual(r.sent, ['c']);
  });

  test('the prompt is written once before each line is read, and async prints end with a newline', async () => {
    const r = rig([{ name: 'say', args: '<text>', help: 'prints', run: (t) => r.cl.print(t) }]);
    await until(() => r.out() === PROMPT, 5000, 'first prompt');
    r.cl.print("core 1: Received 'x'"); // as the receiving lcore would, while the prompt waits
    r.cl.print('two\n');
    r.input.write('say hi\n');
    await until(() => r.out().endsWith('hi\n' + PROMPT), 5000, 'second prompt');
    assert.equal(r.out(), `${PROMPT}core 1: Received 'x'\ntwo\nhi\n${PROMPT}`);
    r.input.end();
    assert.equal(await r.closed, 'eof');
    assert.equal(r.out(), `${PROMPT}core 1: Received 'x'\ntwo\nhi\n${PROMPT}\n`);
  });

  test('with echo, each line read is written after its prompt, so the output reads as a transcript', async () => {
    const r = rig([], { echo: true });
    const { out } = await script(r, ['send x', 'nope']);
    assert.equal(out, `${PROMPT}send x\n${PROMPT}nope\nunknown command 'nope'; type help\n${PROMPT}\n`);
  });

  test('end of input emits close (eof) only after every queued line has run', async () => {
    let done = false;
    const r = rig([{ name: 'slow', help: 'async', run: async () => { await sleep(50); done = true; } }]);
    const { reason } = await script(r, ['slow']);
    assert.equal(reason, 'eof');
    assert.equal(done, true);
    assert.equal(r.cl.closed, true);
  });

  test('close() from a command drops the lines queued after it and emits close exactly once', async () => {
    const r = rig();
    let closes = 0;
    r.cl.on('close', () => closes++);
    const { reason } = await script(r, ['send a', 'quit', 'send b']);
    assert.equal(reason, 'quit');
    assert.deepEqual(r.sent, ['a']);
    r.cl.close();
    await sleep(10);
    assert.equal(closes, 1);
    r.cl.print('after close'); // still writes, plainly
    await sleep(0);
    assert.match(r.out(), /after close\n$/);
  });

  test('completion offers command names for the first word only', () => {
    const r = rig();
    assert.deepEqual(r.cl.complete('se'), [['send '], 'se']);
    assert.deepEqual(r.cl.complete(''), [['help', 'quit', 'send'], '']);
    assert.deepEqual(r.cl.complete('  q'), [['quit '], 'q']);
    assert.deepEqual(r.cl.complete('x'), [[], 'x']);
    assert.deepEqual(r.cl.complete('send he'), [[], 'send he']);
    r.cl.close();
  });

  test('a command table with a blank or duplicate name is refused with EINVAL; start() twice too', () => {
    const run = (): void => undefined;
    assert.throws(() => new Cmdline({ prompt: '> ', commands: [{ name: 'a b', help: '', run }], input: new PassThrough(), output: new PassThrough() }), (e) => isMpdkError(e, 'EINVAL'));
    assert.throws(() => new Cmdline({ prompt: '> ', commands: [{ name: 'a', help: '', run }, { name: 'a', help: '', run }], input: new PassThrough(), output: new PassThrough() }), (e) => isMpdkError(e, 'EINVAL'));
    const r = rig();
    assert.throws(() => r.cl.start(), (e) => isMpdkError(e, 'EINVAL'));
    assert.throws(() => r.cl.addCommand({ name: 'send', help: '', run }), (e) => isMpdkError(e, 'EINVAL'));
    r.cl.addCommand({ name: 'help', help: 'my own help', run }); // the built-in help may be replaced
    assert.match(r.cl.helpText(), /help +my own help/);
    r.cl.close();
  });

  test('on a terminal without cursor control (TERM=dumb) a print goes on its own line and the typed text is written again', async () => {
    const term = process.env.TERM;
    process.env.TERM = 'dumb';
    try {
      const input = new PassThrough();
      const output = new PassThrough();
      let out = '';
      output.setEncoding('utf8').on('data', (d: string) => (out += d));
      const cl = new Cmdline({ prompt: PROMPT, input, output, terminal: true, commands: [] }).start();
      input.write('sen');
      await until(() => out.endsWith('sen'), 5000, 'echo');
      cl.print("core 1: Received 'x'");
      await sleep(0);
      assert.equal(out, `${PROMPT}sen\r\ncore 1: Received 'x'\r\n${PROMPT}sen`);
      assert.doesNotMatch(out, /\x1b/);
      cl.close();
    } finally {
      if (term === undefined) delete process.env.TERM;
      else process.env.TERM = term;
    }
  });

  test('a real process on a pipe runs one command per line and exits cleanly at end of input', async () => {
    const c = spawnNode(FIXTURE, []);
    c.proc.stdin!.end('send a b\nslow 20 x\nboom\nsend ü\n');
    assert.equal(await exitedWithin(c, 5000), 0);
    assert.equal(c.out, `${PROMPT}sent 'a b'\n${PROMPT}done x\n${PROMPT}error: kaboom\n${PROMPT}sent 'ü'\n${PROMPT}\nclosed eof raw=n/a\n`);
  });
});

// ---------------------------------------------------------------------------------------
// The TTY path, in a pseudo-terminal.

const HAVE_SCRIPT = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const ptys = new Set<ChildProcess>();

after(async () => {
  for (const p of ptys) p.kill('SIGKILL'); // the fixture gets SIGHUP when the pty closes
  await reapAll();
});

/**
 * Just enough of a VT100 to see what a person would: printable text, CR, LF, and the CSI
 * sequences readline uses (cursor moves, erase).
 */
function screen(raw: string, cols = Infinity): string[] {
  const rows: string[][] = [[]];
  let row = 0;
  let col = 0;
  const line = (): string[] => (rows[row] ??= []);
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\r') col = 0;
    else if (ch === '\n') { row++; line(); }
    else if (ch === '\x1b' && raw[i + 1] === '[') {
      const m = /^\x1b\[([?0-9;]*)([A-Za-z])/.exec(raw.slice(i))!;
      i += m[0].length - 1;
      const n = m[1] === '' ? 1 : Number(m[1]);
      switch (m[2]) {
        case 'G': col = n - 1; break;
        case 'C': col += n; break;
        case 'D': col = Math.max(0, col - n); break;
        case 'A': row = Math.max(0, row - n); break;
        case 'B': row += n; line(); break;
        case 'J': line().length = col; rows.length = row + 1; break; // 0J: to end of screen
        case 'K': line().length = col; break;
        default: break;
      }
    } else if (ch >= ' ') {
      if (col >= cols) { row++; col = 0; } // xterm's deferred wrap
      const l = line();
      while (l.length < col) l.push(' ');
      l[col++] = ch;
    }
  }
  return rows.map((r) => r.join('').trimEnd());
}

interface Pty {
  raw: string;
  exited: Promise<number>;
  type(s: string): Promise<void>;
  waitFor(re: RegExp, ms?: number): Promise<void>;
  screen(): string[];
}

function pty(args: string[] = [], cols?: number): Pty {
  const cmd = (cols ? `stty cols ${cols} rows 40; ` : '') + [process.execPath, FIXTURE, ...args].join(' ');
  const proc = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
  ptys.add(proc);
  const p: Pty = {
    raw: '',
    exited: new Promise((r) => proc.on('exit', (code) => { ptys.delete(proc); r(code ?? -1); })),
    // One chunk per call, then a pause: readline treats a multi-character chunk as a paste
    // (no tab completion inside a paste).
    async type(s) { proc.stdin!.write(s); await sleep(60); },
    async waitFor(re, ms = 3000) {
      await until(() => re.test(p.screen().join('\n')), ms, `${re} on screen:\n${p.screen().join('\n')}\nraw: ${JSON.stringify(p.raw)}`);
    },
    screen: () => screen(p.raw, cols),
  };
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (p.raw += d));
  return p;
}

const lastLine = (t: Pty): string => t.screen().filter((l) => l !== '').at(-1) ?? '';
const waitLast = (t: Pty, want: string): Promise<string> =>
  until(() => lastLine(t) === want && want, 5000, `last line '${want}'; screen:\n${t.screen().join('\n')}`);

describe('Cmdline in a terminal', { skip: HAVE_SCRIPT ? false : 'util-linux `script` is not installed: no pseudo-terminal without native code' }, () => {
  test('an async print while a line is half typed appears above it, and the typed text is kept', async () => {
    const t = pty();
    await waitLast(t, 'simple_mp >');
    await t.type('later 300 core 1: Received \'hi\'\r');
    await t.type('send hal');
    await t.waitFor(/^core 1: Received 'hi'$/m);
    await waitLast(t, 'simple_mp > send hal'); // prompt and typed text redrawn under it
    await t.type('f way\r');
    await t.waitFor(/^sent 'half way'$/m);
    const s = t.screen();
    assert.ok(!s.some((l) => /sendhal|hal.*Received/.test(l)), `no garbled line:\n${s.join('\n')}`);
    await t.type('\x04'); // Ctrl-D
    await t.waitFor(/closed eof raw=false/);
    assert.equal(await t.exited, 0);
  });

  test('prints while a typed line wraps over several rows clear all of them and redraw the whole line', async () => {
    const t = pty([], 30);
    await waitLast(t, 'simple_mp >');
    await t.type("later 600 core 1: Received 'one'\r");
    await t.type("later 900 core 1: Received 'two'\r");
    const typed = 'send ' + 'abcdefghij'.repeat(5); // 12 + 55 columns: three rows of 30
    await t.type(typed);
    await t.type('\x1b[D\x1b[D\x1b[D'); // cursor back into the line
    await t.waitFor(/^core 1: Received 'two'$/m);
    await sleep(100);
    const s = t.screen();
    const at = s.indexOf("core 1: Received 'one'");
    assert.deepEqual(s.slice(at).filter((l) => l !== ''), [
      "core 1: Received 'one'", "core 1: Received 'two'",
      'simple_mp > send abcdefghijabc', 'defghijabcdefghijabcdefghijabc', 'defghij',
    ], s.join('\n'));
    await t.type('X'); // inserted where the cursor was: the cursor came back there
    await t.waitFor(/^defgXhij$/m); // Enter in the same chunk would be taken as pasted text
    await t.type('\r');
    await until(() => t.raw.includes("sent 'abcdefghijabcdefghijabcdefghijabcdefghijabcdefgXhij'"), 5000, 'the edited line ran');
    await t.type('quit\r');
    assert.equal(await t.exited, 0);
  });

  test('tab completes a command name, up-arrow recalls history, Ctrl-D closes with the terminal restored', async () => {
    const t = pty();
    await waitLast(t, 'simple_mp >');
    await t.type('he');
    await waitLast(t, 'simple_mp > he'); // the tab must arrive in a chunk of its own
    await t.type('\t');
    await waitLast(t, 'simple_mp > help');
    await t.type('\r');
    await t.waitFor(/^ {2}send <string> +send a string/m);
    await t.type('send first one\r');
    await t.waitFor(/^sent 'first one'$/m);
    await t.type('\x1b[A'); // up arrow
    await waitLast(t, 'simple_mp > send first one');
    await t.type('\r');
    await until(() => t.screen().filter((l) => l === "sent 'first one'").length === 2, 5000, 'the recalled line ran');
    await t.type('\x04');
    await t.waitFor(/closed eof raw=false/);
    assert.equal(await t.exited, 0);
  });

  test('history goes to a file only when asked, and the next session recalls it', async () => {
    const file = path.join(os.tmpdir(), `mpdk-cmdline-history-${process.pid}`);
    fs.rmSync(file, { force: true });
    try {
      const a = pty([`--history=${file}`]);
      await waitLast(a, 'simple_mp >');
      await a.type('send from the first session\r');
      await a.waitFor(/^sent 'from the first session'$/m);
      await a.type('quit\r');
      assert.equal(await a.exited, 0);
      assert.equal(fs.readFileSync(file, 'utf8'), 'send from the first session\nquit\n');
      const b = pty([`--history=${file}`]);
      await waitLast(b, 'simple_mp >');
      await b.type('\x1b[A');
      await waitLast(b, 'simple_mp > quit');
      await b.type('\x1b[A');
      await waitLast(b, 'simple_mp > send from the first session');
      await b.type('\r');
      await b.waitFor(/^sent 'from the first session'$/m);
      await b.type('quit\r');
      assert.equal(await b.exited, 0);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  test('output during a running async command keeps the text typed ahead, and the prompt returns after it', async () => {
    const t = pty();
    await waitLast(t, 'simple_mp >');
    await t.type('slow 300 t\r');
    await t.type('abc');
    await t.waitFor(/^done t$/m);
    await waitLast(t, 'simple_mp > abc');
    await t.type('\x15quit\r'); // Ctrl-U drops "abc"
    await t.waitFor(/closed quit raw=false/);
    assert.equal(await t.exited, 0);
  });

  test('Ctrl-C closes by default (interrupt); with a listener the app decides and the prompt comes back', async () => {
    const t = pty();
    await waitLast(t, 'simple_mp >');
    await t.type('sen');
    await t.type('\x03');
    await t.waitFor(/closed interrupt raw=false/);
    assert.equal(await t.exited, 0);

    const k = pty(['--keep-on-interrupt']);
    await waitLast(k, 'simple_mp >');
    await k.type('send abandoned');
    await k.type('\x03');
    await k.waitFor(/^interrupted$/m);
    await waitLast(k, 'simple_mp >');
    await k.type('send kept\r');
    await k.waitFor(/^sent 'kept'$/m);
    assert.ok(!k.screen().includes("sent 'abandoned'"));
    await k.type('quit\r');
    await k.waitFor(/closed quit raw=false/);
    assert.equal(await k.exited, 0);
  });
});
