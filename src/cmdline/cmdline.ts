/**
 * The interactive command line of the sample programs (DPDK's lib/cmdline): a prompt, a
 * table of commands, `help`, tab completion of command names and in-memory history. Built
 * on node:readline, which already does line editing, history and completion on a TTY.
 * Nothing here lives in shared memory; it is per process.
 *
 *   caller (the app)                         Cmdline
 *   new Cmdline({prompt, commands, ...})     checks the command table (EINVAL)
 *   start()                                  shows the first prompt, starts reading
 *   print(text)  from any callback           writes text without breaking the typed line
 *   close()      e.g. from `quit`            stops reading, restores the terminal, 'close'
 *   on('close', reason)                      'quit' (close()), 'eof' (Ctrl-D, end of pipe,
 *                                            after every queued line ran), 'interrupt'
 *   on('interrupt')                          Ctrl-C on a TTY; with no listener it closes
 *
 * A line is `name rest`: the name is the first word; `rest` is everything after the blanks
 * that follow it, kept exactly (inner and trailing spaces, any Unicode). Lines run strictly
 * in arrival order, one at a time, even when run() returns a Promise (piped input arrives
 * all at once). A command that throws or rejects prints `error: <message>`; an unknown
 * name prints a one-line hint; neither stops the command line.
 *
 * Two output modes:
 * - TTY (input and output are terminals): readline owns the line. print() moves to the
 *   start of the prompt, clears to the end of the screen, writes the text and redraws
 *   prompt + typed text with the cursor where it was.
 * - not a TTY (pipes, files): the prompt is written once before each line is read, with no
 *   newline (as in the guide's transcripts, `simple_mp > core 9: Received '...'`); every
 *   print() ends with a newline, so output lines are never glued to each other.
 *
 * States (one Cmdline):
 *   from   event                    to       effect
 *   new    start()                  idle     prompt shown
 *   idle   line arrives             busy     command runs; prompt hidden (TTY: '' prompt)
 *   busy   run() returned/settled   idle     next queued line runs, else prompt shown
 *   idle   input ends (EOF)         closed   'close' 'eof'
 *   busy   input ends (EOF)         busy     remembered; 'close' 'eof' once the queue drains
 *   any    close()                  closed   queued lines dropped, 'close' 'quit'
 *   any    Ctrl-C, no listener      closed   'close' 'interrupt'
 * Refused: start() twice or after close (EINVAL). Ignored: lines after closed, close()
 * twice ('close' is emitted exactly once). print() after close writes plainly.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import readline from 'node:readline';
import { MpdkError } from '../eal/errors.js';

/** One command of a `Cmdline` table: its name, its argument synopsis, its help line and what it runs. */
export interface Command {
  /** The word that invokes it: no blanks. */
  name: string;
  /**
   * Argument synopsis shown by help: `<x>` means required (an empty rest is refused with
   * the usage), `[x]` optional, undefined means the command takes none (a non-empty rest
   * is refused with the usage).
   */
  args?: string;
  /** One line for `help`. */
  help: string;
  /** Runs with the rest of the line; may return a Promise (the next line waits for it). */
  run(argText: string, cmdline: Cmdline): void | Promise<void>;
}

/** Options of `new Cmdline(...)`: the prompt, the command table, the streams (default stdin and stdout). */
export interface CmdlineOptions {
  /** Printed before each line read, e.g. `'simple_mp > '`. */
  prompt: string;
  /** The command table (`help` is added). */
  commands: readonly Command[];
  /** Where lines come from (default `process.stdin`). */
  input?: NodeJS.ReadableStream;
  /** Where the prompt and output go (default `process.stdout`). */
  output?: NodeJS.WritableStream;
  /** Line editing mode; default: input and output are both TTYs. */
  terminal?: boolean;
  /** Lines kept for up-arrow recall (TTY only); default 100. */
  historySize?: number;
  /** Load history from and append it to this file (TTY only); default none. */
  historyFile?: string;
  /** Not a TTY: write each line read after its prompt, so the output reads as a transcript. */
  echo?: boolean;
  /** Printed by `help` above the command list. */
  intro?: string;
}

/**
 * Why a `Cmdline` closed: `close()` was called (`'quit'`), its input ended (`'eof'`), or Ctrl-C with no `'interrupt'` listener.
 */
export type CloseReason = 'quit' | 'eof' | 'interrupt';

type State = 'new' | 'idle' | 'busy' | 'closed';

const HELP_NAME = 'help';

/** Split a line into its command name and the exact rest; null for a blank line. */
export function parseLine(line: string): {
  /** The command's name: the line's first word. */
  name: string;
  /** The rest of the line after the name and the blanks after it, exactly as typed. */
  rest: string;
} | null {
  let i = 0;
  while (i < line.length && isBlank(line.charCodeAt(i))) i++;
  if (i === line.length) return null;
  let j = i;
  while (j < line.length && !isBlank(line.charCodeAt(j))) j++;
  const name = line.slice(i, j);
  while (j < line.length && isBlank(line.charCodeAt(j))) j++;
  return { name, rest: line.slice(j) };
}

/** Space, tab and a stray CR (CRLF input that reached us in two pieces). */
function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * An interactive command line (DPDK's lib/cmdline): a prompt, a table of commands, `help`, tab
 * completion and history (node:readline). Per process, nothing shared. EINVAL from the
 * constructor for a bad command table. Emits `'close'` with a `CloseReason`, and `'interrupt'`
 * on Ctrl-C.
 */
export class Cmdline extends EventEmitter {
  /** The prompt printed before each line. */
  readonly prompt: string;
  /** True when readline edits the line (both ends are TTYs). */
  readonly terminal: boolean;
  private readonly input: NodeJS.ReadableStream;
  private readonly output: NodeJS.WritableStream;
  private readonly commands = new Map<string, Command>();
  private readonly builtinHelp: Command = {
    name: HELP_NAME, args: '[command]', help: 'list the commands, or describe one',
    run: (rest) => this.help(rest),
  };
  private readonly opts: CmdlineOptions;
  private rl: readline.Interface | null = null;
  private state: State = 'new';
  /** Lines read but not yet run (only the pump takes from it). */
  private readonly queue: string[] = [];
  private pumping = false;
  private inputEnded = false;
  /** Not a TTY: whether the last thing written ended a line (the prompt does not). */
  private atLineStart = true;
  /** Cleared when appending fails once. */
  private historyFile: string | undefined;

  constructor(opts: CmdlineOptions) {
    super();
    this.opts = opts;
    this.historyFile = opts.historyFile;
    this.prompt = opts.prompt;
    this.input = opts.input ?? process.stdin;
    this.output = opts.output ?? process.stdout;
    this.terminal = opts.terminal ?? Boolean((this.input as { isTTY?: boolean }).isTTY && (this.output as { isTTY?: boolean }).isTTY);
    for (const c of opts.commands) this.addCommand(c);
  }

  /**
   * Add a command (for commands that need objects made after the Cmdline). A name already
   * taken is refused (EINVAL), except the built-in `help`, which a command may replace.
   */
  addCommand(c: Command): this {
    if (!/^\S+$/.test(c.name)) throw new MpdkError('EINVAL', `command name '${c.name}' must be one word with no blanks`);
    const had = this.commands.get(c.name);
    if (had !== undefined && had !== this.builtinHelp) {
      throw new MpdkError('EINVAL', `command '${c.name}' is defined twice; give each command its own name`);
    }
    // Keep `help` listed last whatever the order of additions.
    if (had === undefined) this.commands.delete(HELP_NAME);
    this.commands.set(c.name, c);
    if (!this.commands.has(HELP_NAME)) this.commands.set(HELP_NAME, this.builtinHelp);
    return this;
  }

  /** Show the first prompt and start reading lines. Lines typed before are not lost. */
  start(): this {
    if (this.state !== 'new') throw new MpdkError('EINVAL', `Cmdline.start() called when ${this.state}; call it once, after construction`);
    const history = this.terminal && this.historyFile ? this.loadHistory(this.historyFile) : [];
    const rl = readline.createInterface({
      input: this.input,
      output: this.output,
      terminal: this.terminal,
      completer: this.terminal ? (line: string) => this.complete(line) : undefined,
      historySize: this.opts.historySize ?? 100,
      history,
      removeHistoryDuplicates: true,
      prompt: this.prompt,
      crlfDelay: Infinity,
    });
    this.rl = rl;
    rl.on('line', (line) => this.onLine(line));
    rl.on('close', () => this.onInputEnd());
    rl.on('SIGINT', () => this.onInterrupt());
    this.state = 'idle';
    this.showPrompt();
    return this;
  }

  /**
   * Print asynchronous output (a received message, a command's result) without breaking
   * what the person is typing. A newline is added when `text` lacks one.
   */
  print(text: string): void {
    const s = text.endsWith('\n') ? text : text + '\n';
    const rl = this.rl;
    if (!this.terminal || rl === null || this.state === 'closed') {
      this.write(s);
      return;
    }
    if (process.env.TERM === 'dumb') {
      // No cursor control (readline itself only echoes): the text goes on its own line,
      // then prompt and typed text are written again after it.
      const shown = this.state === 'idle' || rl.line !== '';
      this.output.write((shown ? '\r\n' : '') + s.replace(/\r?\n/g, '\r\n') + (this.state === 'idle' ? this.prompt : '') + rl.line);
      return;
    }
    // Go to where the prompt starts (the typed line may wrap over several rows), clear
    // everything below, write, then let readline draw prompt + line again.
    const rows = rl.getCursorPos().rows;
    if (rows > 0) readline.moveCursor(this.output, 0, -rows);
    readline.cursorTo(this.output, 0);
    readline.clearScreenDown(this.output);
    this.output.write(s.replace(/\r?\n/g, '\r\n'));
    // readline's redraw first moves up by `prevRows` (the cursor row of its last redraw,
    // an undocumented field of readline.Interface since Node 12); we already moved there
    // and wrote below, so it must not move again.
    (rl as unknown as { prevRows?: number }).prevRows = 0;
    // While a command runs nothing is drawn unless the person typed ahead.
    if (this.state === 'idle' || rl.line !== '') rl.prompt(true);
  }

  /** Stop reading, restore the terminal (no raw mode left) and emit 'close' ('quit'). */
  close(): void {
    this.finish('quit');
  }

  /** Whether close() ran or the input ended and every queued line has run. */
  get closed(): boolean {
    return this.state === 'closed';
  }

  /** The readline completer: command names for the first word, nothing after it. */
  complete(line: string): [string[], string] {
    const m = /^[ \t]*(\S*)$/.exec(line);
    if (m === null) return [[], line];
    const word = m[1]!;
    const hits = [...this.commands.keys()].filter((n) => n.startsWith(word)).sort();
    // A single hit gets its trailing blank so the person can go on with the argument.
    return [hits.length === 1 ? [hits[0] + ' '] : hits, word];
  }

  /** The text `help` prints (all commands, or one). */
  helpText(name = ''): string {
    const want = name.trim();
    const usage = (c: Command): string => (c.args ? `${c.name} ${c.args}` : c.name);
    if (want !== '') {
      const c = this.commands.get(want);
      return c ? `${usage(c)}: ${c.help}` : `unknown command '${want}'; type help`;
    }
    const list = [...this.commands.values()];
    const width = Math.max(...list.map((c) => usage(c).length));
    const lines = list.map((c) => `  ${usage(c).padEnd(width)}  ${c.help}`);
    return (this.opts.intro ? this.opts.intro.replace(/\n*$/, '\n\n') : '') + 'commands:\n' + lines.join('\n');
  }

  private help(rest: string): void {
    this.print(this.helpText(rest));
  }

  private onLine(line: string): void {
    if (this.state === 'closed') return;
    if (this.terminal && this.historyFile && line.trim() !== '') this.appendHistory(this.historyFile, line);
    this.queue.push(line);
    if (!this.pumping) void this.pump();
  }

  /** Runs queued lines one after the other; the only caller of run(). */
  private async pump(): Promise<void> {
    this.pumping = true;
    while (this.queue.length > 0 && this.state !== 'closed') {
      const line = this.queue.shift()!;
      this.setBusy();
      if (!this.terminal && this.opts.echo) this.write(line + '\n');
      try {
        const r = this.execute(line);
        if (r !== undefined) await r;
      } catch (e) {
        if (!this.isClosed()) this.print(`error: ${messageOf(e)}`);
      }
      if (this.isClosed()) break;
      this.state = 'idle';
      this.showPrompt();
    }
    this.pumping = false;
    if (this.inputEnded && !this.isClosed()) this.finish('eof');
  }

  /** Read through a method so TypeScript does not narrow `state` across awaits. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private execute(line: string): void | Promise<void> {
    const parsed = parseLine(line);
    if (parsed === null) return;
    const c = this.commands.get(parsed.name);
    if (c === undefined) {
      this.print(`unknown command '${parsed.name}'; type help`);
      return;
    }
    if (c.args === undefined && parsed.rest !== '') {
      this.print(`'${c.name}' takes no argument; usage: ${c.name}`);
      return;
    }
    if (c.args !== undefined && c.args.startsWith('<') && parsed.rest === '') {
      this.print(`'${c.name}' needs an argument; usage: ${c.name} ${c.args}`);
      return;
    }
    return c.run(parsed.rest, this);
  }

  private setBusy(): void {
    this.state = 'busy';
    // TTY: while a command runs, redraws (from print) show only what is typed ahead.
    if (this.terminal) this.rl!.setPrompt('');
  }

  private showPrompt(): void {
    if (this.terminal) {
      this.rl!.setPrompt(this.prompt);
      this.rl!.prompt(true);
    } else {
      this.write(this.prompt);
    }
  }

  private onInputEnd(): void {
    this.inputEnded = true;
    if (!this.pumping && !this.isClosed()) this.finish('eof');
  }

  private onInterrupt(): void {
    if (this.isClosed()) return;
    const rl = this.rl!;
    // Like a shell: go to the end of the line, mark it abandoned, start a fresh one.
    rl.write('', { ctrl: true, name: 'e' });
    this.output.write('^C');
    (rl as unknown as { clearLine(): void }).clearLine();
    if (this.listenerCount('interrupt') === 0) {
      this.finish('interrupt');
      return;
    }
    this.emit('interrupt');
    if (this.state === 'idle') rl.prompt(true);
  }

  private finish(reason: CloseReason): void {
    if (this.state === 'closed') return;
    const promptShown = this.state === 'idle';
    this.state = 'closed';
    this.queue.length = 0;
    if (this.terminal) {
      // The cursor is after the prompt (Ctrl-D) or at the start of a line (quit).
      if (promptShown && reason === 'eof') this.output.write('\r\n');
    } else if (!this.atLineStart) {
      this.write('\n');
    }
    // readline's close() leaves raw mode and pauses the input.
    this.rl?.close();
    this.emit('close', reason);
  }

  private write(s: string): void {
    if (s.length === 0) return;
    this.output.write(s);
    this.atLineStart = s.endsWith('\n');
  }

  private loadHistory(file: string): string[] {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return [];
    }
    // readline wants newest first.
    return text.split('\n').filter((l) => l.trim() !== '').slice(-(this.opts.historySize ?? 100)).reverse();
  }

  private appendHistory(file: string, line: string): void {
    try {
      fs.appendFileSync(file, line.replace(/\n/g, ' ') + '\n');
    } catch (e) {
      // History is a convenience: say once, then stop trying.
      this.historyFile = undefined;
      this.print(`note: cannot write history to ${file} (${messageOf(e)}); history is kept in memory only`);
    }
  }
}
