/**
 * mp_server's built-in traffic (src/apps/mp_server/traffic.ts) in a process of its own, for
 * test/client_server_mp.test.ts: `node traffic-child.js EAL-ARGS`. Prints "ready", then
 * injects and collects for 10 s at most (MPDK_TEST_HOOK stops it inside, for a SIGKILL), and
 * exits.
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import { Eal, stderrLogger } from '../src/index.js';
import { PortInfoView } from '../src/apps/mp_server/common.js';
import { Traffic } from '../src/apps/mp_server/traffic.js';

const { eal } = Eal.init(process.argv.slice(2), { name: 'traffic-child', logger: stderrLogger, handleSignals: true });
eal.onPrimaryExit(() => undefined);
const t = new Traffic(eal, PortInfoView.lookup(eal));
process.stdout.write('ready\n');
for (const end = Date.now() + 10000; Date.now() < end;) {
  t.inject(32);
  t.collect();
}
t.close();
eal.close();
process.exit(0);
