/**
 * A process of an instance for test/hotplug.test.ts: joins as a secondary (EAL options on
 * the command line), attaches its EthDev (so it answers the others' attach and detach),
 * records every event its `eal.events.on('*')` gets, prints `{"ready": pid}`, then obeys
 * one JSON command per stdin line and prints one JSON result line per command.
 *
 *   {"id", "do": "attach", "spec", "timeout"} → {"id", "port"} | {"id", "error", "code"}
 *   {"id", "do": "detach", "port", "timeout"} detach (with its ownership of the port, if it took it)
 *   {"id", "do": "ports"}                   → {"id", "ports": [ids]}
 *   {"id", "do": "own", "port", "component"} takes the port and keeps the ownership
 *   {"id", "do": "configure", "port"}       configure(port, 1 RX, 1 TX) (with its ownership, if any)
 *   {"id", "do": "bind", "port"}            binds RX queue 0 (rxQueue: claims it)
 *   {"id", "do": "unbind", "port"}          releases RX queue 0
 *   {"id", "do": "events"}                  → {"id", "events": [{type, pid, port, text}]}
 *   {"id", "do": "wire", "port"}            plays both sides of the port's wire (dev.wire: claims them)
 *   {"id", "do": "close-dev"}               dev.close(), the process lives on
 *   {"id", "do": "close-eal"}               eal.close(), the process lives on
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import readline from 'node:readline';
import { Eal, EthDev, type MpdkError, type PortOwnership } from '../src/index.js';

const { eal } = Eal.init(process.argv.slice(2), { name: 'hotplug-child', handleSignals: true });
const dev = EthDev.attach(eal);
const owned = new Map<number, PortOwnership>();
const events: { type: string; pid: number; port?: number; text: string }[] = [];
eal.events.on('*', (e) => events.push({ type: e.type, pid: e.pid, port: e.port, text: e.text }));

const say = (o: unknown): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};

interface Cmd {
  id: number;
  do: string;
  spec?: string;
  port?: number;
  component?: string;
  timeout?: number;
}

async function obey(c: Cmd): Promise<void> {
  try {
    const port = c.port!;
    if (c.do === 'attach') say({ id: c.id, port: await dev.attachPort(c.spec!, { timeout: c.timeout }) });
    else if (c.do === 'detach') {
      await dev.detachPort(port, { owner: owned.get(port), timeout: c.timeout });
      say({ id: c.id, done: true });
    } else if (c.do === 'ports') say({ id: c.id, ports: dev.portIds() });
    else if (c.do === 'own') {
      owned.set(port, dev.takeOwnership(port, c.component ?? ''));
      say({ id: c.id, done: true });
    } else if (c.do === 'configure') {
      dev.configure(port, { rxQueues: 1, txQueues: 1, owner: owned.get(port) });
      say({ id: c.id, done: true });
    } else if (c.do === 'bind') {
      dev.rxQueue(port, 0);
      say({ id: c.id, done: true });
    } else if (c.do === 'unbind') {
      dev.releaseQueue(port, 0, 'rx');
      say({ id: c.id, done: true });
    } else if (c.do === 'events') say({ id: c.id, events });
    else if (c.do === 'wire') {
      dev.wire(port);
      say({ id: c.id, done: true });
    } else if (c.do === 'close-dev') {
      dev.close();
      say({ id: c.id, done: true });
    } else if (c.do === 'close-eal') {
      eal.close();
      say({ id: c.id, done: true });
    }
  } catch (e) {
    say({ id: c.id, error: (e as Error).message, code: (e as MpdkError).code });
  }
}

readline.createInterface({ input: process.stdin }).on('line', (l) => void obey(JSON.parse(l) as Cmd));
say({ ready: process.pid });
setInterval(() => undefined, 1 << 30);
