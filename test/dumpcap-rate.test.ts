/**
 * The capture that used to lose frames: symmetric_mp forwarding pktgen's 100 kpps, and a
 * 2-second `mpdk dumpcap` with the default buffer. It must write every packet the port
 * received, dropping none (DPDK's dumpcap does not drop at that rate either).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PcapRecord, PcapngReader } from '../src/index.js';
import { leftovers, reapAll, removeInstance, run, spawnNode, uniquePrefix } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dumpcap-rate-'));
const prefix = uniquePrefix('drate');
after(async () => {
  await reapAll();
  removeInstance(prefix);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('a 2 s capture of 100 kpps with the default buffer drops nothing', async () => {
  const app = spawnNode('mpdk', ['symmetric_mp', '-l', '0', '--proc-type=primary', '--file-prefix', prefix, '--log-level', 'error', '--vdev=net_ring0', '--vdev=net_ring1', '--', '-p', '3', '--num-procs=1', '--proc-id=0']);
  await app.waitFor(/APP: Finished Process Init\./, 15000);
  const gen = spawnNode('mpdk', ['pktgen', '-l', '3', '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--', '--tx-port', '0', '--rx-port', '1', '--rate', '100k', '--duration', '30', '--progress', '100']);
  // pktgen attached, sending, and its frames coming back through symmetric_mp; it sends
  // until the capture is over (Ctrl-C below; --duration is only a bound).
  await gen.waitFor(/pktgen [\d.]+s  tx [1-9]\d* .* rx [1-9]/, 15000);
  const cap = path.join(tmp, 'rate.pcapng');
  const d = await run('mpdk', ['dumpcap', '--file-prefix', prefix, '-q', '-i', '0', '-w', cap, '-a', 'duration:2'], 30000);
  assert.equal(d.code, 0, d.err);
  const m = /(\d+) packets written to 1 file, (\d+) copied by the application, (\d+) dropped/.exec(d.err);
  assert.ok(m, d.err);
  const [written, copied, dropped] = [Number(m[1]), Number(m[2]), Number(m[3])];
  assert.equal(dropped, 0, d.err);
  assert.equal(written, copied);
  assert.ok(written > 100000, `traffic of the order of 100 kpps flowed: ${written} packets in 2 s`);
  const r = PcapngReader.open(cap, { iface: 'all' });
  let n = 0;
  const rec = new PcapRecord();
  while (r.next(rec)) n++;
  assert.equal(n, written);
  assert.deepEqual(r.stats.get(0), { ifRecv: written, ifDrop: 0, filterAccept: written });
  gen.proc.kill('SIGINT');
  assert.equal(await gen.exited, 0, gen.err);
  app.proc.kill('SIGINT');
  assert.equal(await app.exited, 0, app.err);
  assert.deepEqual(leftovers(prefix), []);
});
