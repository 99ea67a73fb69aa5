/**
 * How every mpdk program ends: a UsageError prints its message and exits 2, an MpdkError
 * prints one line (`<program>: <message>`) and exits 1, anything else is a bug and prints
 * its stack.
 */
import { MpdkError, UsageError } from '../eal/errors.js';

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
