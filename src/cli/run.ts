/**
 * How every mpdk program runs and ends, in one place (the `mpdk` command calls runProgram):
 *
 *   -h / --help anywhere    the program's help (argparse.ts: helpText) on stdout, exit 0
 *   main returns N          exit N
 *   UsageError              `<program>: <message>` (one line) on stderr, exit 2: the command line is wrong
 *   MpdkError               `<program>: <message>` (one line) on stderr, exit 1: refused or failed at run time
 *   anything else           a bug: its stack on stderr, exit 70
 *   stdout/stderr closed    (`mpdk ls | head -1`) exit 0 at once, quietly: the reader has what it wanted
 *
 * The 'exit' listeners run on every path (the EAL leaves the instance there; exit.ts).
 */
import { MpdkError, UsageError, helpText, wantsHelp } from '../index.js';
import type { Program } from './programs.js';

/** Print why `program` stopped and exit with the status of that kind of refusal. */
export function reportAndExit(program: string, e: unknown): never {
  if (e instanceof UsageError) {
    process.stderr.write(`${program}: ${e.message}\n`);
    process.exit(2);
  }
  if (e instanceof MpdkError) {
    process.stderr.write(`${program}: ${e.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`${program}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(70);
}

/**
 * A reader that goes away (`| head -1`) closes the pipe; the next write fails with EPIPE
 * (Node ignores SIGPIPE), reported as an 'error' event after the write returns. The
 * program has nothing more to say to anyone: leave quietly, through the exit listeners.
 */
export function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
}

/** Run `program` with `argv` (what follows its name) to its end. */
export async function runProgram(name: string, program: Program, argv: string[]): Promise<void> {
  try {
    const mod = await program.load();
    if (wantsHelp(argv)) {
      process.stdout.write(helpText(mod.spec) + '\n');
      process.exit(0);
    }
    const code = await mod.main(argv);
    if (typeof code === 'number') process.exitCode = code;
  } catch (e) {
    reportAndExit(name, e);
  }
}
