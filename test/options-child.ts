/**
 * A library user's process for test/options.test.ts: `node options-child.js CONFIG [hold]`
 * calls `Eal.init(JSON.parse(CONFIG))` (the options object, nothing else), prints one JSON
 * line (its role and how many SIGTERM / SIGINT listeners it has), and with `hold` stays until
 * stdin closes. CONFIG's "logger": "console" passes console as the logger.
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import { Eal } from '../src/index.js';

const config = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
if (config.logger === 'console') config.logger = console;
const eal = Eal.init(config);
process.stdout.write(JSON.stringify({ type: eal.procType, sigterm: process.listenerCount('SIGTERM'), sigint: process.listenerCount('SIGINT') }) + '\n');
if (process.argv[3] === 'hold') {
  process.stdin.resume();
  await new Promise<void>((r) => process.stdin.on('end', r));
}
eal.close();
