/** `mpdk cleanup --file-prefix X`: remove what a crashed instance left; refuse a live one. */
import fs from 'node:fs';
import { Eal, instanceFiles } from '../eal/eal.js';
import { MpdkError } from '../eal/errors.js';
import { flock, LOCK_EX, LOCK_NB } from '../native/libc.js';
import { FILE_PREFIX_OPTION, instancePrefix, parseArgs, type ProgramSpec } from '../index.js';

export const spec: ProgramSpec = {
  name: 'cleanup',
  synopsis: '[--file-prefix NAME]',
  eal: false,
  about: "Remove the files a crashed instance left behind; refused while a process of the instance lives.",
  options: [FILE_PREFIX_OPTION],
};

export function main(argv: string[]): number {
  const filePrefix = instancePrefix(parseArgs(spec, argv));
  const files = instanceFiles(filePrefix);
  if (!fs.existsSync(files.dir)) throw new MpdkError('ENOENT', `no instance with --file-prefix=${filePrefix}: nothing to clean up`);
  let regionPath = files.region;
  try {
    regionPath = (JSON.parse(fs.readFileSync(files.config, 'utf8')) as { region?: string }).region ?? regionPath;
  } catch {
    /* no config */
  }
  // A live primary holds the config lock.
  if (fs.existsSync(files.config)) {
    const fd = fs.openSync(files.config, 'r');
    try {
      if (!flock(fd, LOCK_EX | LOCK_NB)) throw new MpdkError('EBUSY', `the instance '${filePrefix}' is live (its primary holds ${files.config}); stop its processes first`);
    } finally {
      fs.closeSync(fd);
    }
  }
  try {
    const live = Eal.observe(filePrefix).processes.livePids(-1);
    if (live.length > 0) throw new MpdkError('EBUSY', `the instance '${filePrefix}' is live (processes ${live.join(', ')}); stop them first`);
  } catch (e) {
    if (e instanceof MpdkError && e.code === 'EBUSY') throw e;
    // A damaged or foreign region: nobody can be attached to it through this code; remove it.
  }
  const removed: string[] = [];
  for (const p of [regionPath, files.config]) {
    try {
      fs.unlinkSync(p);
      removed.push(p);
    } catch {
      /* gone */
    }
  }
  for (const f of fs.existsSync(files.dir) ? fs.readdirSync(files.dir) : []) {
    fs.rmSync(`${files.dir}/${f}`, { force: true, recursive: true });
    removed.push(`${files.dir}/${f}`);
  }
  fs.rmSync(files.dir, { force: true, recursive: true });
  process.stdout.write(`cleaned up '${filePrefix}': removed ${removed.length ? removed.join(', ') : 'an empty folder'}\n`);
  return 0;
}
