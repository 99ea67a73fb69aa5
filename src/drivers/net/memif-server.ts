/**
 * The memif server's message handlers, one per message it accepts (the table that says
 * when each is accepted is memif-transitions.ts). Each returns the channel's next state,
 * or 'closed' when it refused the peer (ControlOps.refuse) or dropped the channel.
 *
 * Peer input is checked before use: version, id, secret, mode (INIT); region index and
 * size against the memfd's real size, since a mapping past the end of the file would
 * SIGBUS (ADD_REGION); ring index, size, region and offset (ADD_RING); each ring's cookie
 * and a common ring size (CONNECT).
 */
import fs from 'node:fs';
import { closeFd, mapFd, MAX_MAPPING } from '../../native/libc.js';
import { type Channel, type ChanState, type ControlOps } from './memif-channel.js';
import {
  ackMsg, connectMsg, MEMIF_COOKIE, MEMIF_MAX_LOG2_RING, MEMIF_MAX_REGIONS, MEMIF_VERSION, MODE_ETHERNET, MsgType, parseAddRegion, parseAddRing, parseIfName,
  parseInit, RING, RING_FLAG_MASK_INT, ringBytes,
} from './memif-proto.js';
import { MIF, MIF_RINGS } from './memif-table.js';

/** INIT: the client names the interface (id), proves the secret; the channel becomes the port's. */
export function onInit(ctl: ControlOps, c: Channel, m: Uint8Array): ChanState {
  const init = parseInit(m);
  if (init.version !== MEMIF_VERSION) return ctl.refuse(c, 'Incompatible memif version');
  if (init.id !== ctl.cfg.id) return ctl.refuse(c, 'ID not found');
  if (ctl.active) return ctl.refuse(c, 'Already connected');
  if (init.mode !== MODE_ETHERNET) return ctl.refuse(c, 'Only ethernet mode supported');
  if (ctl.cfg.secret !== '') {
    if (init.secret === '') return ctl.refuse(c, 'Secret required');
    if (init.secret !== ctl.cfg.secret) return ctl.refuse(c, 'Incorrect secret');
  }
  ctl.active = c;
  ctl.setString(MIF.PEER_NAME, 32, init.name);
  ctl.send(c, ackMsg());
  return 'setup';
}

/** ADD_REGION (fd: the region's memfd, now ours to keep or close). */
export function onAddRegion(ctl: ControlOps, c: Channel, m: Uint8Array, fd: number): ChanState {
  if (fd < 0) return ctl.refuse(c, 'Missing region fd');
  const ar = parseAddRegion(m);
  if (ar.index !== c.regions.length || ar.index >= MEMIF_MAX_REGIONS) {
    closeFd(fd);
    return ctl.refuse(c, `Invalid region index ${ar.index}`);
  }
  let real = -1;
  try {
    real = fs.fstatSync(fd).size;
  } catch {
    /* refused below */
  }
  if (!(ar.size > 0 && ar.size < MAX_MAPPING && ar.size <= real)) {
    closeFd(fd);
    return ctl.refuse(c, `Invalid region size ${ar.size} (the file has ${real} bytes)`);
  }
  c.regions.push({ fd, size: ar.size });
  ctl.send(c, ackMsg());
  return 'setup';
}

/** ADD_RING (fd: the ring's interrupt eventfd, closed with the channel whatever happens). */
export function onAddRing(ctl: ControlOps, c: Channel, m: Uint8Array, fd: number): ChanState {
  if (fd < 0) return ctl.refuse(c, 'Missing interrupt fd');
  c.eventfds.push(fd);
  const ar = parseAddRing(m);
  // The server's RX rings are C2S, its TX rings S2C.
  const nb = ar.c2s ? ctl.port.nbRx : ctl.port.nbTx;
  const map = ar.c2s ? c.c2s : c.s2c;
  if (ar.index >= nb || ar.index >= MIF_RINGS || map.has(ar.index)) return ctl.refuse(c, `Invalid ring index ${ar.index}`);
  if (ar.log2 > MEMIF_MAX_LOG2_RING) return ctl.refuse(c, `Invalid ring size 2^${ar.log2} (at most 2^${MEMIF_MAX_LOG2_RING})`);
  const reg = c.regions[ar.region];
  if (!reg) return ctl.refuse(c, `Invalid ring region ${ar.region}`);
  if ((ar.offset & 3) !== 0 || ar.offset + ringBytes(ar.log2) > reg.size) return ctl.refuse(c, `Ring ${ar.index} at offset ${ar.offset} does not fit in region ${ar.region}`);
  map.set(ar.index, { region: ar.region, offset: ar.offset, log2: ar.log2, intfd: fd });
  ctl.send(c, ackMsg());
  return 'setup';
}

/** CONNECT: map the client's regions, check its rings, answer CONNECTED, link up. */
export function onConnect(ctl: ControlOps, c: Channel, m: Uint8Array): ChanState {
  if (c.c2s.size === 0 && c.s2c.size === 0) return ctl.refuse(c, 'connect before any ring was added');
  const err = mapAndCheck(ctl, c);
  if (err) return ctl.refuse(c, err);
  ctl.setString(MIF.PEER_IF, 32, parseIfName(m));
  if (!ctl.send(c, connectMsg(MsgType.CONNECTED, ctl.port.name))) return ctl.drop(c, 'cannot answer connect', false, false);
  ctl.linkUp(c);
  return 'connected';
}

/** Map the client's regions, check each ring, take our RX rings to polling; an error string refuses. */
function mapAndCheck(ctl: ControlOps, c: Channel): string | undefined {
  for (const reg of c.regions) {
    try {
      reg.map = mapFd(reg.fd, reg.size);
    } catch (e) {
      return `cannot map a region: ${(e as Error).message}`;
    }
  }
  let log2 = -1;
  for (const [c2s, map] of [[true, c.c2s], [false, c.s2c]] as const) {
    for (const [idx, def] of map) {
      const reg = c.regions[def.region]!;
      const dv = new DataView(reg.map!.buffer);
      if (dv.getUint32(def.offset + RING.COOKIE, true) !== MEMIF_COOKIE) return `Wrong ring: ${c2s ? 'c2s' : 's2c'} ring ${idx} has no memif cookie`;
      // DPDK's memif_connect resets head and tail: the client posts its S2C buffers after CONNECTED.
      dv.setUint16(def.offset + RING.HEAD, 0, true);
      dv.setUint16(def.offset + RING.TAIL, 0, true);
      if (c2s) dv.setUint16(def.offset + RING.FLAGS, RING_FLAG_MASK_INT, true);
      if (log2 >= 0 && def.log2 !== log2) return 'rings of different sizes';
      log2 = def.log2;
    }
  }
  ctl.setU32(MIF.RUN_LOG2, log2);
  ctl.setU32(MIF.RUN_BSIZE, ctl.cfg.bsize);
  return undefined;
}
