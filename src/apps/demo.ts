/**
 * `mpdk demo` (npm run demo): the main job a newcomer runs first. It starts a simple_mp
 * primary and secondary as real processes, sends messages both ways through the shared
 * rings and pool, prints what each side received and the instance as `mpdk info` sees it,
 * and leaves nothing running and no files behind.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MPDK = fileURLToPath(new URL('../cli/mpdk.js', import.meta.url));

interface Proc {
  out: string;
  write(line: string): void;
  waitFor(re: RegExp, ms: number): Promise<void>;
  done: Promise<number>;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [MPDK, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const p: Proc = {
    out: '',
    write: (line) => child.stdin.write(line + '\n'),
    waitFor: (re, ms) => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`demo: timed out waiting for ${re}`)), ms);
      const check = (): void => {
        if (re.test(p.out)) {
          clearTimeout(t);
          child.stdout.off('data', check);
          resolve();
        }
      };
      child.stdout.on('data', check);
      check();
    }),
    done: new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1))),
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (p.out += d));
  return p;
}

export async function main(): Promise<number> {
  const prefix = `demo${process.pid}`;
  const eal = ['--file-prefix', prefix, '--log-level', 'warning'];
  process.stdout.write(`mpdk demo: simple_mp primary on lcores 0-1, secondary on lcores 2-3 (instance '${prefix}')\n`);
  const pri = start(['simple_mp', '-l', '0-1', '--proc-type=primary', ...eal]);
  await pri.waitFor(/simple_mp > /, 5000);
  const sec = start(['simple_mp', '-l', '2-3', '--proc-type=secondary', ...eal]);
  await sec.waitFor(/simple_mp > /, 5000);
  const n = 5;
  for (let i = 0; i < n; i++) {
    pri.write(`send hello secondary #${i}`);
    sec.write(`send hello primary #${i} — ünïcode ok`);
  }
  await sec.waitFor(new RegExp(`Received 'hello secondary #${n - 1}'`), 5000);
  await pri.waitFor(new RegExp(`Received 'hello primary #${n - 1}`), 5000);
  const show = (who: string, p: Proc): void => {
    for (const l of p.out.split('\n').filter((x) => x.includes('Received'))) process.stdout.write(`  ${who}: ${l.replace(/^simple_mp > /, '')}\n`);
  };
  show('secondary', sec);
  show('primary  ', pri);
  const info = start(['info', '--file-prefix', prefix]);
  await info.done;
  process.stdout.write(info.out.split('\n').map((l) => '  | ' + l).join('\n') + '\n');
  sec.write('quit');
  await sec.done;
  pri.write('quit');
  const code = await pri.done;
  process.stdout.write(`both processes quit (primary exit ${code}); the instance's files are gone\n`);
  return 0;
}
