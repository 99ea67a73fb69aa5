/**
 * The memif client's message handlers, one per message it accepts (memif-transitions.ts
 * says when), and the memory the client creates for a connection. Each handler returns
 * the channel's next state, or 'closed' when it refused the server or dropped the channel.
 *
 * The client owns the memory: at HELLO it creates region 0 (a memfd: rings, then in copy
 * mode one buffer per slot; DPDK's layout), in zero-copy mode adds the EAL region file as
 * region 1, creates one eventfd per ring, and queues ADD_REGION, ADD_RING..., CONNECT,
 * sent one per ACK (DPDK's lock-step).
 */
import fs from 'node:fs';
import { eventfdCreate, mapFd, memfdCreate, MAX_MAPPING } from '../../native/libc.js';
import { APP_NAME, type Channel, type ChanState, type ControlOps } from './memif-channel.js';
import {
  addRegionMsg, addRingMsg, connectMsg, DESC, initMsg, MEMIF_COOKIE, MEMIF_VERSION, MsgType, parseHello, parseIfName, regionLayout, RING, RING_FLAG_MASK_INT,
  ringBytes,
} from './memif-proto.js';
import { MIF } from './memif-table.js';

/** HELLO: the server's limits; create the memory and send INIT (the rest follows per ACK). */
export function onHello(ctl: ControlOps, c: Channel, m: Uint8Array): ChanState {
  const h = parseHello(m);
  if (h.minVersion > MEMIF_VERSION || h.maxVersion < MEMIF_VERSION) return ctl.refuse(c, 'Incompatible memif version');
  ctl.setString(MIF.PEER_NAME, 32, h.name);
  const err = clientSetup(ctl, c, h.maxC2S + 1, h.maxS2C + 1, Math.min(h.maxLog2, ctl.cfg.log2));
  if (err) return ctl.refuse(c, err);
  ctl.send(c, initMsg(ctl.cfg.id, ctl.cfg.secret, APP_NAME));
  return 'setup';
}

/** ACK: send the next setup message; after CONNECT, wait for CONNECTED. */
export function onAck(ctl: ControlOps, c: Channel): ChanState {
  const next = c.queue.shift();
  if (!next) return ctl.refuse(c, 'unexpected ack');
  if (!ctl.send(c, next.m, next.fd)) return ctl.drop(c, 'cannot send to the server', false, false);
  return c.queue.length === 0 ? 'connecting' : 'setup';
}

/** CONNECTED: the server mapped our memory; link up. */
export function onConnected(ctl: ControlOps, c: Channel, m: Uint8Array): ChanState {
  ctl.setString(MIF.PEER_IF, 32, parseIfName(m));
  ctl.linkUp(c);
  return 'connected';
}

/** Create the region (rings + buffers) and queue ADD_REGION, ADD_RINGs, CONNECT; an error string refuses. */
function clientSetup(ctl: ControlOps, c: Channel, maxC2S: number, maxS2C: number, log2: number): string | undefined {
  const port = ctl.port;
  const nC2S = Math.min(maxC2S, port.nbTx);
  const nS2C = Math.min(maxS2C, port.nbRx);
  if (nC2S + nS2C === 0) return 'no ring in common with the server';
  const bsize = ctl.cfg.bsize;
  const zc = ctl.cfg.zc;
  const lay = regionLayout(nC2S, nS2C, log2, bsize);
  // Zero-copy: region 0 holds the rings only; the buffers are mbufs of region 1.
  const size0 = zc ? lay.bufOffset : lay.size;
  if (size0 >= MAX_MAPPING || size0 > 0xffffffff) return `region of ${size0} bytes is too large: lower rsize or bsize`;
  const fd = memfdCreate('memif_region_0', size0);
  const map = mapFd(fd, size0);
  c.regions.push({ fd, size: size0, map });
  const dv = new DataView(map.buffer);
  const rb = ringBytes(log2);
  const size = 1 << log2;
  for (let i = 0; i < nC2S + nS2C; i++) {
    const ro = i * rb;
    dv.setUint32(ro + RING.COOKIE, MEMIF_COOKIE, true);
    // We poll our RX (S2C) rings: the server need not signal them.
    dv.setUint16(ro + RING.FLAGS, i >= nC2S ? RING_FLAG_MASK_INT : 0, true);
    dv.setUint16(ro + RING.HEAD, 0, true);
    dv.setUint16(ro + RING.TAIL, 0, true);
    if (zc) continue; // the queues write each descriptor as they post an mbuf
    for (let j = 0; j < size; j++) {
      const d = ro + RING.DESC + j * DESC.BYTES;
      dv.setUint16(d + DESC.FLAGS, 0, true);
      dv.setUint16(d + DESC.REGION, 0, true);
      dv.setUint32(d + DESC.LENGTH, bsize, true);
      dv.setUint32(d + DESC.OFFSET, lay.bufOffset + (i * size + j) * bsize, true);
    }
  }
  c.queue.push({ m: addRegionMsg(0, size0), fd });
  if (zc) {
    // Region 1 is the EAL region file: mbuf offsets are offsets in it, so a descriptor
    // names an mbuf's data as (region 1, BUF_OFF + DATA_OFF). The peer maps all of it.
    const eal = ctl.eal;
    let rfd: number;
    try {
      rfd = fs.openSync(eal.region.path, 'r+');
    } catch (e) {
      return `zero-copy: cannot open the shared region ${eal.region.path}: ${(e as Error).message}`;
    }
    c.regions.push({ fd: rfd, size: eal.region.size });
    c.queue.push({ m: addRegionMsg(1, eal.region.size), fd: rfd });
  }
  for (let i = 0; i < nC2S + nS2C; i++) {
    const c2s = i < nC2S;
    const index = c2s ? i : i - nC2S;
    const efd = eventfdCreate();
    c.eventfds.push(efd);
    (c2s ? c.c2s : c.s2c).set(index, { region: 0, offset: i * rb, log2, intfd: efd });
    c.queue.push({ m: addRingMsg({ c2s, index, region: 0, offset: i * rb, log2, privHdr: 0 }), fd: efd });
  }
  c.queue.push({ m: connectMsg(MsgType.CONNECT, port.name), fd: -1 });
  ctl.setU32(MIF.RUN_LOG2, log2);
  ctl.setU32(MIF.RUN_BSIZE, bsize);
  return undefined;
}
