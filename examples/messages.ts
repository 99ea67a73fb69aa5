/**
 * Two processes exchanging messages through shared memory.
 *
 *   node dist/examples/messages.js
 *
 * The first process creates an *instance* (a shared-memory region with a name, its
 * "file prefix") and becomes its *primary*; in it, two named channels: 'ping' and 'pong'.
 * It then starts a second process from this same file, a *secondary*, which joins the
 * instance by name and looks the channels up. The primary sends words on 'ping'; the
 * secondary answers each on 'pong' in upper case. A message is copied once, by its sender,
 * into a buffer of the shared region; the receiver reads it where it lies.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Channel, Eal, installExit } from 'mpdk';

// Leave through _exit(2) once the 'exit' listeners ran: Node 24 can hang in its own exit.
installExit();

// The secondary is this same file, started with 'secondary' and the instance's name.
const [first, prefixArg] = process.argv.slice(2);

if (first !== 'secondary') {
  const prefix = `messages-${process.pid}`; // a name of its own per run, so that two runs never meet
  // Each process of an instance runs on its own lcores (DPDK's logical cores: ids that
  // are unique within the instance and pin the thread to that CPU). 64 MiB is plenty here.
  using eal = Eal.init({ filePrefix: prefix, lcores: [0], memoryMiB: 64 });
  const ping = Channel.create(eal, 'ping');
  const pong = Channel.create(eal, 'pong');

  const peer = spawn(process.execPath, [import.meta.filename, 'secondary', prefix], { stdio: 'inherit' });
  const exited = once(peer, 'exit');

  // One sending end and one receiving end per thread; `using` closes them at the end of the block.
  using tx = ping.sender();
  using rx = pong.receiver();
  const signal = AbortSignal.timeout(10_000); // the whole conversation, bounded
  for (const word of ['hello', 'from', 'the', 'primary']) {
    await tx.sendAsync(word, { signal }); // waits, without blocking the event loop, while the channel is full
    const batch = await rx.receive({ signal }); // resolves with the messages there are (at least one)
    console.log(`primary: sent '${word}', got '${batch.text(0)}' back`);
  }
  await tx.sendAsync('bye', { signal });
  const [code] = await exited; // leave the instance only after the secondary has
  console.log(`primary: the secondary exited with status ${code}`);
} else {
  // A secondary joins the instance the primary created (and refuses to start without one).
  using eal = Eal.init({ filePrefix: prefixArg!, lcores: [1], procType: 'secondary' });
  using rx = Channel.lookup(eal, 'ping').receiver();
  using tx = Channel.lookup(eal, 'pong').sender();
  // Each step is a batch of whole messages; its views are valid until the next step. If the
  // primary dies first, `eal.primaryGone` aborts and the loop throws its reason (ESRCH);
  // the library itself never exits the process.
  receiving: for await (const batch of rx.messages({ signal: eal.primaryGone })) {
    for (let i = 0; i < batch.length; i++) {
      const text = batch.text(i);
      if (text === 'bye') break receiving;
      await tx.sendAsync(text.toUpperCase());
    }
  }
  console.log('secondary: done');
}
