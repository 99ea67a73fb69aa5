#!/usr/bin/env node
/**
 * `mpdk <program> [EAL options] [-- program options]`: one command for every program,
 * as DPDK's examples are one binary each (`mpdk simple_mp -l 0-1 --proc-type=primary`
 * in place of `./build/simple_mp -c 3 -n 4 --proc-type=primary`).
 *
 *   mpdk --help | -h | help     the programs, on stdout, exit 0 (no argument at all: on stderr, exit 2)
 *   mpdk help PROGRAM           = mpdk PROGRAM --help
 *   mpdk --version | -V         the version
 *   mpdk PROGRAM ...            run.ts: runProgram
 */
import { EXIT_STATUSES, MPDK_VERSION, nearest } from '../index.js';
import { installExit } from '../eal/exit.js';
import { PROGRAMS } from './programs.js';
import { endQuietlyOnClosedPipe, runProgram } from './run.js';

function usage(): string {
  const names = Object.keys(PROGRAMS);
  const w = Math.max(...names.map((n) => n.length));
  return [
    `mpdk ${MPDK_VERSION}: DPDK's multi-process model for Node.js`,
    '',
    'usage: mpdk <program> [EAL options] [-- program options]',
    '       mpdk help <program>      (= mpdk <program> --help)',
    '',
    'programs:',
    ...names.map((n) => `  ${n.padEnd(w)}  ${PROGRAMS[n]!.summary}`),
    '',
    "EAL options are the same for every program: see 'mpdk <program> --help'.",
    "Options take their value as --name VALUE or --name=VALUE (a value that starts with '-' only",
    'as --name=VALUE); -h or --help anywhere prints the help of the program and exits 0.',
    '',
    EXIT_STATUSES,
  ].join('\n');
}

/** One line naming the nearest program (or option of `mpdk` itself), exit 2. */
function unknownProgram(name: string): never {
  const option = name.startsWith('-');
  const guess = nearest(name, option ? ['--help', '--version'] : Object.keys(PROGRAMS));
  const hint = guess !== undefined ? `did you mean ${guess}?` : option ? "see 'mpdk --help'" : `programs: ${Object.keys(PROGRAMS).join(', ')}`;
  process.stderr.write(`mpdk: unknown ${option ? 'option' : 'program'} '${name}'; ${hint}\n`);
  process.exit(2);
}

installExit();
endQuietlyOnClosedPipe();

const [name, ...rest] = process.argv.slice(2);
if (name === undefined) {
  process.stderr.write(usage() + '\n');
  process.exit(2);
} else if (name === '-h' || name === '--help' || (name === 'help' && rest.length === 0)) {
  process.stdout.write(usage() + '\n');
  process.exit(0);
} else if (name === '--version' || name === '-V') {
  process.stdout.write(`${MPDK_VERSION}\n`);
  process.exit(0);
} else if (name === 'help') {
  const target = PROGRAMS[rest[0]!];
  if (!target) unknownProgram(rest[0]!);
  await runProgram(rest[0]!, target, ['--help']);
} else {
  const prog = PROGRAMS[name];
  if (!prog) unknownProgram(name);
  await runProgram(name, prog, rest);
}
