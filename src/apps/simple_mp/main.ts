/**
 * simple_mp: the guide's basic multi-process example. Two processes (a primary and a
 * secondary, each with at least two lcores) send each other text messages through two
 * channels (the library's Channel: a named ring of buffers, DPDK's PRI_2_SEC / SEC_2_PRI)
 * over a shared message pool (MSG_POOL):
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
import {
  stderrLogger, awaitFromPrimary, Channel, CHANNEL_FRAME_BYTES, Cmdline, Eal, MpdkError, PktmbufPool, UsageError, parseArgs, reclaimDead, remoteLaunch, type ChannelSender, type ProgramSpec,
} from '../../index.js';
import { MSG_MAX, MSG_POOL, MSG_SIZE, POOL_CACHE, POOL_SIZE, PRI_2_SEC, RING_SIZE, SEC_2_PRI, encodeMessage } from './messages.js';
import type { ReceiverArg } from './receiver.js';

export const spec: ProgramSpec = {
  name: 'simple_mp',
  synopsis: '[EAL options]   (no program options)',
  eal: true,
  about: 'Give at least two lcores: the main one runs the prompt, the next one receives.\nCommands at the prompt: send <string> | help | quit',
  options: [],
};

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * The channels, looked up. A simple_mp primary that started an instant before us may not
 * have created them yet: while it lives we wait (awaitFromPrimary: bounded, said, naming
 * it); a primary that is not simple_mp, or is gone, is refused at once.
 */
function lookUpChannels(eal: Eal, sendName: string, recvName: string): ChannelSender {
  return awaitFromPrimary(eal, {
    program: 'simple_mp',
    what: `the channels ${PRI_2_SEC} and ${SEC_2_PRI}`,
    look: () => {
      try {
        Channel.lookup(eal, recvName);
        return Channel.lookup(eal, sendName).sender();
      } catch (e) {
        if (e instanceof MpdkError && e.code === 'ENOENT') return undefined;
        throw e;
      }
    },
    refuse: (why) => new MpdkError('ENOENT', `cannot find the channels ${PRI_2_SEC} and ${SEC_2_PRI} of instance '${eal.filePrefix}': ${why} (start the primary with 'mpdk simple_mp --proc-type=primary')`),
    say: (line) => process.stderr.write(`simple_mp: ${line}\n`),
  });
}

export async function main(argv: string[]): Promise<number> {
  // Everything the command line alone decides is checked before the instance is touched.
  const { eal: opts } = parseArgs(spec, argv);
  if (opts!.lcores.length < 2) throw new UsageError(`simple_mp needs at least 2 lcores (one runs the prompt, one receives); give e.g. -l 0-1`);
  const { eal } = Eal.init(argv, { name: 'simple_mp', logger: stderrLogger, handleSignals: true });

  // The primary's send channel is the secondary's receive channel, and the other way round.
  const sendName = eal.isPrimary ? PRI_2_SEC : SEC_2_PRI;
  const recvName = eal.isPrimary ? SEC_2_PRI : PRI_2_SEC;
  let tx: ChannelSender;
  try {
    // A predecessor killed with messages in hand: its buffers go back first.
    reclaimDead(eal);
    if (eal.isPrimary && !eal.adopted) {
      if (process.env.MPDK_TEST_HOOK === 'simple_mp:channels') {
        process.stderr.write('MPDK_TEST_HOOK simple_mp:channels reached\n'); // a primary stuck before its channels
        for (;;) Atomics.wait(pause, 0, 0, 1000);
      }
      const pool = PktmbufPool.create(eal, MSG_POOL, { count: POOL_SIZE, cacheSize: POOL_CACHE, dataRoomSize: MSG_SIZE + CHANNEL_FRAME_BYTES, headroom: 0 });
      Channel.create(eal, PRI_2_SEC, { count: RING_SIZE, pool, maxMessage: MSG_SIZE });
      Channel.create(eal, SEC_2_PRI, { count: RING_SIZE, pool, maxMessage: MSG_SIZE });
    }
    tx = lookUpChannels(eal, sendName, recvName);
  } catch (e) {
    eal.close();
    throw e;
  }

  const cmd = new Cmdline({ prompt: 'simple_mp > ', input: process.stdin, output: process.stdout, commands: [] });
  const recvLcore = eal.workerLcores[0]!;
  let quitting = false;
  const job = remoteLaunch(eal, recvLcore, new URL('./receiver.js', import.meta.url), { recv: recvName } satisfies ReceiverArg, {
    onMessage: (m) => {
      const msg = m as { started?: number; lcore?: number; texts?: string[] };
      if (msg.started !== undefined) {
        cmd.print(`Starting core ${msg.started}`);
        cmd.start(); // the prompt comes after the receiver's start line (G5)
      }
      for (const t of msg.texts ?? []) cmd.print(`core ${msg.lcore}: Received '${t}'`);
    },
  });

  const send = (text: string): void => {
    const msg = encodeMessage(text);
    if (typeof msg === 'number') {
      cmd.print(`message not sent: it is ${msg} bytes, and a ${MSG_POOL} buffer holds at most ${MSG_MAX}`);
      return;
    }
    const st = tx.trySend(msg);
    if (st === 'no-buffers') cmd.print(`message not sent: ${MSG_POOL} is empty (all ${POOL_SIZE} buffers are in use; is the other process receiving?)`);
    else if (st === 'no-room') cmd.print(`message not sent: ring ${sendName} is full (${tx.channel.waiting()} waiting; is the other process receiving?)`);
  };

  const quit = async (code: number): Promise<never> => {
    if (!quitting) {
      quitting = true;
      job.post('stop');
      await Promise.race([job.done.catch(() => 0), new Promise((r) => setTimeout(r, 1000))]);
      await job.terminate();
      cmd.close();
      tx.close();
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
