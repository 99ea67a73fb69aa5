/** `mpdk cleanup --file-prefix X [--huge-dir DIR]`: remove what a crashed instance left; refuse a live one. */
import { cleanupInstance, FILE_PREFIX_OPTION, HUGE_DIR_OPTION, instancePrefix, parseArgs, type ProgramSpec } from '../index.js';

export const spec: ProgramSpec = {
  name: 'cleanup',
  synopsis: '[--file-prefix NAME] [--huge-dir DIR]',
  eal: false,
  about: 'Remove the files a crashed instance left behind; refused while a process of the instance lives (or cannot be told dead),\nand for a folder that is not a real folder of yours.',
  options: [FILE_PREFIX_OPTION, HUGE_DIR_OPTION],
};

export function main(argv: string[]): number {
  const a = parseArgs(spec, argv);
  const filePrefix = instancePrefix(a);
  const { removed } = cleanupInstance(filePrefix, a.value('--huge-dir'));
  process.stdout.write(`cleaned up '${filePrefix}': removed ${removed.length ? removed.join(', ') : 'an empty folder'}\n`);
  return 0;
}
