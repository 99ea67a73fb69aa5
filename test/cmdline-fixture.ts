/**
 * A small interactive program on Cmdline for test/cmdline.test.ts, run as a real process
 * on a pipe or inside a pseudo-terminal (`script`). Commands:
 *   send <string>       prints `sent '<string>'`
 *   later <ms> <text>   prints <text> asynchronously after ms (as a received message would)
 *   slow <ms> <tag>     an async command: prints `done <tag>` after ms
 *   boom                throws
 *   quit                closes
 * On 'close' it prints `closed <reason> raw=<stdin raw mode>` and exits 0.
 * Arguments: `--keep-on-interrupt`: Ctrl-C prints `interrupted` and goes on;
 * `--history=FILE`: keep history in FILE.
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import { Cmdline } from '../src/cmdline/cmdline.js';

const historyFile = process.argv.find((a) => a.startsWith('--history='))?.slice('--history='.length);
const cl: Cmdline = new Cmdline({
  prompt: 'simple_mp > ',
  historyFile,
  commands: [
    { name: 'send', args: '<string>', help: 'send a string to the other process', run: (s) => cl.print(`sent '${s}'`) },
    {
      name: 'later', args: '<ms> <text>', help: 'print text after ms',
      run: (rest) => {
        const [ms, ...text] = rest.split(' ');
        setTimeout(() => cl.print(text.join(' ')), Number(ms));
      },
    },
    {
      name: 'slow', args: '<ms> <tag>', help: 'an async command',
      run: async (rest): Promise<void> => {
        const [ms, tag] = rest.split(' ');
        await new Promise((r) => setTimeout(r, Number(ms)));
        cl.print(`done ${tag}`);
      },
    },
    { name: 'boom', help: 'throw', run: () => { throw new Error('kaboom'); } },
    { name: 'quit', help: 'close the application', run: () => cl.close() },
  ],
});

if (process.argv.includes('--keep-on-interrupt')) cl.on('interrupt', () => cl.print('interrupted'));
cl.on('close', (reason: string) => {
  const raw = (process.stdin as { isRaw?: boolean }).isRaw ?? 'n/a';
  process.stdout.write(`closed ${reason} raw=${String(raw)}\n`);
  process.exitCode = 0;
});
cl.start();
