/**
 * simple_mp: the guide's basic multi-process example. Two processes (a primary and a
 * secondary, each with at least two lcores) send each other text messages through two
 * named rings and a shared message pool:
 *
 *   mpdk simple_mp -l 0-1 --proc-type=primary      (or auto, or no --proc-type)
 *   mpdk simple_mp -l 2-3 --proc-type=secondary    (or auto)
 *
 * The main lcore runs the `simple_mp > ` prompt (send <string>, help, quit); the first
 * worker lcore receives (receiver.ts) and prints `core N: Received '<string>'`.
 * When the primary dies the secondary says so and exits (the guide: it must be restarted
 * after a new primary). quit, Ctrl-C and Ctrl-D release the lcores; the last process out
 * removes the instance's files.
 */
import { stderrLogger, Cmdline, Eal, Mempool, MpdkError, Ring, UsageError, parseArgs, remoteLaunch, type ProgramSpec } from '../../index.js';
import { MSG_MAX, MSG_POOL, MSG_SIZE, POOL_CACHE, POOL_SIZE, PRI_2_SEC, RING_SIZE, SEC_2_PRI, writeMessage } from './messages.js';
import type { ReceiverArg } from './receiver.js';

export const spec: ProgramSpec = {
  name: 'simple_mp',
  synopsis: '[EAL options]   (no program options)',
  eal: true,
  about: 'Give at least two lcores: the main one runs the prompt, the next one receives.\nCommands at the prompt: send <string> | help | quit',
  options: [],
};

export async function main(argv: string[]): Promise<number> {
  // Everything the command line alone decides is checked before the instance is touched.
  const { eal: opts } = parseArgs(spec, argv);
  if (opts!.lcores.length < 2) throw new UsageError(`simple_mp needs at least 2 lcores (one runs the prompt, one receives); give e.g. -l 0-1`);
  const { eal } = Eal.init(argv, { name: 'simple_mp', logger: stderrLogger, handleSignals: true });

  let sendRing: Ring;
  let recvRing: Ring;
  let pool: Mempool;
  try {
    if (eal.isPrimary && !eal.adopted) {
      sendRing = Ring.create(eal, PRI_2_SEC, { count: RING_SIZE });
      recvRing = Ring.create(eal, SEC_2_PRI, { count: RING_SIZE });
      pool = Mempool.create(eal, MSG_POOL, { count: POOL_SIZE, eltSize: MSG_SIZE, cacheSize: POOL_CACHE });
    } else {
      const find = <T>(what: string, fn: () => T): T => {
        try {
          return fn();
        } catch (e) {
          if (e instanceof MpdkError && e.code === 'ENOENT') {
            throw new MpdkError('ENOENT', `cannot find the ${what} of instance '${eal.filePrefix}': its primary is not simple_mp (start the primary with 'mpdk simple_mp --proc-type=primary')`);
          }
          throw e;
        }
      };
      // The primary's send ring is our receive ring, and the other way round.
      const primarySide = eal.isPrimary;
      recvRing = find(`ring ${primarySide ? SEC_2_PRI : PRI_2_SEC}`, () => Ring.lookup(eal, primarySide ? SEC_2_PRI : PRI_2_SEC));
      sendRing = find(`ring ${primarySide ? PRI_2_SEC : SEC_2_PRI}`, () => Ring.lookup(eal, primarySide ? PRI_2_SEC : SEC_2_PRI));
      pool = find(`mempool ${MSG_POOL}`, () => Mempool.lookup(eal, MSG_POOL));
    }
  } catch (e) {
    eal.close();
    throw e;
  }

  const stopWord = new SharedArrayBuffer(4);
  const cmd = new Cmdline({ prompt: 'simple_mp > ', input: process.stdin, output: process.stdout, commands: [] });
  const recvLcore = eal.workerLcores[0]!;
  let quitting = false;
  const job = remoteLaunch(eal, recvLcore, new URL('./receiver.js', import.meta.url), { recvRing: recvRing.name, pool: MSG_POOL, stop: stopWord } satisfies ReceiverArg, {
    onMessage: (m) => {
      const msg = m as { started?: number; lcore?: number; texts?: string[] };
      if (msg.started !== undefined) {
        cmd.print(`Starting core ${msg.started}`);
        cmd.start(); // the prompt comes after the receiver's start line (G5)
      }
      for (const t of msg.texts ?? []) cmd.print(`core ${msg.lcore}: Received '${t}'`);
    },
  });

  const encoder = new TextEncoder();
  const one = new Uint32Array(1);
  const send = (text: string): void => {
    const bytes = encoder.encode(text);
    if (bytes.length > MSG_MAX) {
      cmd.print(`message not sent: it is ${bytes.length} bytes, and a ${MSG_POOL} buffer holds at most ${MSG_MAX}`);
      return;
    }
    if (pool.getBulk(one, 1) === 0) {
      cmd.print(`message not sent: ${MSG_POOL} is empty (all ${POOL_SIZE} buffers are in use; is the other process receiving?)`);
      return;
    }
    writeMessage(eal.region.u8, one[0]!, bytes);
    if (sendRing.enqueueBulk(one, 1) === 0) {
      pool.putBulk(one, 1);
      cmd.print(`message not sent: ring ${sendRing.name} is full (${sendRing.count()} waiting; is the other process receiving?)`);
    }
  };

  const quit = async (code: number): Promise<never> => {
    if (!quitting) {
      quitting = true;
      Atomics.store(new Int32Array(stopWord), 0, 1);
      await Promise.race([job.done.catch(() => 0), new Promise((r) => setTimeout(r, 1000))]);
      await job.terminate();
      cmd.close();
      eal.close();
    }
    process.exit(code);
  };

  cmd.addCommand({ name: 'send', args: '<string>', help: 'send a string to the other process', run: (rest: string) => send(rest) });
  cmd.addCommand({ name: 'quit', help: 'exit the application', run: () => quit(0) });
  cmd.on('close', () => {
    if (!quitting) void quit(0); // Ctrl-D or end of piped input
  });
  cmd.on('interrupt', () => void quit(0)); // Ctrl-C at the prompt
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => void quit(sig === 'SIGINT' ? 0 : 1));
  eal.onPrimaryExit((pid) => {
    if (eal.isPrimary) return;
    cmd.print(`simple_mp: the primary process (pid ${pid}) has exited; this secondary exits too: restart it after a new primary`);
    void quit(1);
  });
  job.done.catch((e: Error) => {
    if (quitting) return;
    cmd.print(`simple_mp: the receiving lcore failed: ${e.message}`);
    void quit(1);
  });
  return new Promise<number>(() => undefined); // runs until quit
}
