/**
 * RSS: the Toeplitz hash against the published Microsoft RSS verification suite ("Verifying
 * the RSS Hash Calculation", also Intel 82599 datasheet §7.1.2.8.3), the table-driven fast
 * path against the bit-by-bit reference, packet parsing rules, the RETA, symmetric mode.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMpdkError } from '../src/eal/errors.js';
import { ETHERTYPE, FlowSet, IPPROTO, parseIpv4, parseIpv6, put16, writeEth, writeIpv4, writeIpv6, writeTcp, writeUdp, portMac } from '../src/net/packet.js';
import { PacketHasher, RSS_HF, RSS_KEY_DEFAULT, RSS_KEY_SYMMETRIC, Reta, ToeplitzTable, toeplitz } from '../src/net/rss.js';

// Published table: destination, source, IPv4-only hash, IPv4-with-TCP hash.
const V4 = [
  { dst: '161.142.100.80', dport: 1766, src: '66.9.149.187', sport: 2794, l3: 0x323e8fc2, l4: 0x51ccc178 },
  { dst: '65.69.140.83', dport: 4739, src: '199.92.111.2', sport: 14230, l3: 0xd718262a, l4: 0xc626b0ea },
  { dst: '12.22.207.184', dport: 38024, src: '24.19.198.95', sport: 12898, l3: 0xd2d0a5de, l4: 0x5c2b394a },
  { dst: '209.142.163.6', dport: 2217, src: '38.27.205.30', sport: 48228, l3: 0x82989176, l4: 0xafc7327f },
  { dst: '202.188.127.2', dport: 1303, src: '153.39.163.191', sport: 44251, l3: 0x5d1809c5, l4: 0x10e828a2 },
];
const V6 = [
  { dst: '3ffe:2501:200:3::1', dport: 1766, src: '3ffe:2501:200:1fff::7', sport: 2794, l3: 0x2cc18cd5, l4: 0x40207d3d },
  { dst: 'ff02::1', dport: 4739, src: '3ffe:501:8::260:97ff:fe40:efab', sport: 14230, l3: 0x0f0c461c, l4: 0xdde51bbf },
  { dst: 'fe80::200:f8ff:fe21:67cf', dport: 38024, src: '3ffe:1900:4545:3:200:f8ff:fe21:67cf', sport: 44251, l3: 0x4b61e985, l4: 0x02d1feef },
];

/** The NIC's hash input: src addr, dst addr, src port, dst port (network order). */
function input4(src: string, dst: string, sport?: number, dport?: number): Uint8Array {
  const b = new Uint8Array(sport === undefined ? 8 : 12);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, parseIpv4(src));
  dv.setUint32(4, parseIpv4(dst));
  if (sport !== undefined) {
    dv.setUint16(8, sport);
    dv.setUint16(10, dport!);
  }
  return b;
}
function input6(src: string, dst: string, sport?: number, dport?: number): Uint8Array {
  const b = new Uint8Array(sport === undefined ? 32 : 36);
  b.set(parseIpv6(src), 0);
  b.set(parseIpv6(dst), 16);
  if (sport !== undefined) {
    put16(b, 32, sport);
    put16(b, 34, dport!);
  }
  return b;
}

const MAC_A = portMac(0);
const MAC_B = portMac(1);

/** An Ethernet frame at `off` of a bigger buffer (the fast path works at any offset). */
function frame4(src: string, dst: string, proto: number, sport: number, dport: number, opts: { vlan?: number; frag?: number; off?: number } = {}): { u8: Uint8Array; off: number; len: number } {
  const off = opts.off ?? 3;
  const u8 = new Uint8Array(off + 128).fill(0xee);
  const ip = writeEth(u8, off, MAC_A, MAC_B, ETHERTYPE.IPV4, opts.vlan ?? -1);
  const l4 = writeIpv4(u8, ip, parseIpv4(src), parseIpv4(dst), proto, 28);
  if (opts.frag !== undefined) put16(u8, ip + 6, opts.frag);
  if (proto === IPPROTO.TCP) writeTcp(u8, l4, sport, dport);
  else writeUdp(u8, l4, sport, dport, 20);
  return { u8, off, len: l4 + 28 - off };
}
function frame6(src: string, dst: string, next: number, sport: number, dport: number): { u8: Uint8Array; off: number; len: number } {
  const u8 = new Uint8Array(160);
  const ip = writeEth(u8, 0, MAC_A, MAC_B, ETHERTYPE.IPV6);
  const l4 = writeIpv6(u8, ip, parseIpv6(src), parseIpv6(dst), next, 28);
  if (next === IPPROTO.TCP) writeTcp(u8, l4, sport, dport);
  else writeUdp(u8, l4, sport, dport, 20);
  return { u8, off: 0, len: l4 + 28 };
}

/** hashPacket, checked against the DataView path (PacketHasher) on the same bytes. */
function hp(t: ToeplitzTable, u8: Uint8Array, off: number, len: number): number {
  const a = t.hashPacket(u8, off, len);
  const b = new PacketHasher(t, u8).hash(off, len);
  assert.equal(b, a, 'PacketHasher and hashPacket agree');
  return a;
}

const hex = (n: number): string => '0x' + n.toString(16).padStart(8, '0');

describe('Toeplitz hash against the published Microsoft RSS verification values', () => {
  const table = new ToeplitzTable(RSS_KEY_DEFAULT);

  for (const v of V4) {
    it(`IPv4 ${v.src}:${v.sport} -> ${v.dst}:${v.dport} hashes to ${hex(v.l3)} (L3) and ${hex(v.l4)} (TCP)`, () => {
      assert.equal(hex(toeplitz(RSS_KEY_DEFAULT, input4(v.src, v.dst))), hex(v.l3));
      assert.equal(hex(toeplitz(RSS_KEY_DEFAULT, input4(v.src, v.dst, v.sport, v.dport))), hex(v.l4));
      assert.equal(hex(table.hashIpv4(parseIpv4(v.src), parseIpv4(v.dst))), hex(v.l3));
      assert.equal(hex(table.hashIpv4L4(parseIpv4(v.src), parseIpv4(v.dst), v.sport, v.dport)), hex(v.l4));
      const f = frame4(v.src, v.dst, IPPROTO.TCP, v.sport, v.dport);
      assert.equal(hex(hp(table, f.u8, f.off, f.len)), hex(v.l4));
      const icmp = frame4(v.src, v.dst, IPPROTO.ICMP, 0, 0);
      assert.equal(hex(hp(table, icmp.u8, icmp.off, icmp.len)), hex(v.l3));
    });
  }

  for (const v of V6) {
    it(`IPv6 ${v.src}:${v.sport} -> ${v.dst}:${v.dport} hashes to ${hex(v.l3)} (L3) and ${hex(v.l4)} (TCP)`, () => {
      assert.equal(hex(toeplitz(RSS_KEY_DEFAULT, input6(v.src, v.dst))), hex(v.l3));
      assert.equal(hex(toeplitz(RSS_KEY_DEFAULT, input6(v.src, v.dst, v.sport, v.dport))), hex(v.l4));
      const f = frame6(v.src, v.dst, IPPROTO.TCP, v.sport, v.dport);
      assert.equal(hex(hp(table, f.u8, f.off, f.len)), hex(v.l4));
      const icmp = frame6(v.src, v.dst, IPPROTO.ICMPV6, 0, 0);
      assert.equal(hex(hp(table, icmp.u8, icmp.off, icmp.len)), hex(v.l3));
    });
  }
});

describe('ToeplitzTable fast path', () => {
  it('equals the bit-by-bit reference on random inputs of every length up to 36 bytes', () => {
    const keys = [RSS_KEY_DEFAULT, RSS_KEY_SYMMETRIC, Uint8Array.from({ length: 40 }, (_, i) => (i * 97 + 13) & 255)];
    let seed = 12345;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    for (const key of keys) {
      const t = new ToeplitzTable(key);
      for (let n = 0; n < 200; n++) {
        const len = n % 37;
        const b = Uint8Array.from({ length: len + 5 }, rnd);
        assert.equal(t.hashBytes(b, 5, len), toeplitz(key, b, 5, len), `key ${key[2]} len ${len}`);
      }
    }
  });

  it('hashes UDP like TCP: the ports, src first', () => {
    const t = new ToeplitzTable();
    const v = V4[0]!;
    const f = frame4(v.src, v.dst, IPPROTO.UDP, v.sport, v.dport);
    assert.equal(hex(hp(t, f.u8, f.off, f.len)), hex(v.l4));
    const g = frame6(V6[0]!.src, V6[0]!.dst, IPPROTO.UDP, V6[0]!.sport, V6[0]!.dport);
    assert.equal(hex(hp(t, g.u8, g.off, g.len)), hex(V6[0]!.l4));
  });

  it('skips a VLAN tag', () => {
    const t = new ToeplitzTable();
    const v = V4[1]!;
    const f = frame4(v.src, v.dst, IPPROTO.TCP, v.sport, v.dport, { vlan: 100 });
    assert.equal(hex(hp(t, f.u8, f.off, f.len)), hex(v.l4));
  });

  it('skips two stacked tags (802.1ad then 802.1Q)', () => {
    const t = new ToeplitzTable();
    const v = V4[4]!;
    const f = frame4(v.src, v.dst, IPPROTO.UDP, v.sport, v.dport, { vlan: 7 });
    // Insert an outer 0x88a8 tag in front of the 0x8100 one.
    const u8 = new Uint8Array(f.len + 4);
    u8.set(f.u8.subarray(f.off, f.off + 12), 0);
    put16(u8, 12, ETHERTYPE.QINQ);
    put16(u8, 14, 5);
    u8.set(f.u8.subarray(f.off + 12, f.off + f.len), 16);
    assert.equal(hex(hp(t, u8, 0, u8.length)), hex(v.l4));
  });

  it('reads nothing past the frame: a frame that ends its buffer, and a length cut inside it', () => {
    const t = new ToeplitzTable();
    const v = V6[1]!;
    const f = frame6(v.src, v.dst, IPPROTO.TCP, v.sport, v.dport);
    const exact = f.u8.slice(0, f.len);
    assert.equal(hex(hp(t, exact, 0, exact.length)), hex(v.l4));
    assert.equal(hex(hp(t, exact, 0, 14 + 40 + 3)), hex(v.l3), 'ports cut off: L3 hash');
    assert.equal(hp(t, exact, 0, 14 + 39), 0, 'addresses cut off: 0');
  });

  it('uses the L3 hash for an IPv4 fragment (MF set or offset non-zero)', () => {
    const t = new ToeplitzTable();
    const v = V4[2]!;
    for (const frag of [0x2000, 0x0010, 0x2010]) {
      const f = frame4(v.src, v.dst, IPPROTO.UDP, v.sport, v.dport, { frag });
      assert.equal(hex(hp(t, f.u8, f.off, f.len)), hex(v.l3), `frag 0x${frag.toString(16)}`);
    }
    const df = frame4(v.src, v.dst, IPPROTO.UDP, v.sport, v.dport, { frag: 0x4000 });
    assert.equal(hex(hp(t, df.u8, df.off, df.len)), hex(v.l4), 'DF alone is not a fragment');
  });

  it('gives 0 for non-IP frames and frames too short for their headers', () => {
    const t = new ToeplitzTable();
    const arp = new Uint8Array(60);
    writeEth(arp, 0, MAC_A, MAC_B, ETHERTYPE.ARP);
    assert.equal(hp(t, arp, 0, 60), 0);
    const v = V4[0]!;
    const f = frame4(v.src, v.dst, IPPROTO.TCP, v.sport, v.dport);
    assert.equal(hp(t, f.u8, f.off, 13), 0);
    assert.equal(hp(t, f.u8, f.off, 14 + 19), 0);
    // L3 fields present, L4 ports cut off: L3 hash.
    assert.equal(hex(hp(t, f.u8, f.off, 14 + 20 + 3)), hex(v.l3));
  });

  it('honours the enabled hash types: L4 off falls back to L3, L3 off gives 0', () => {
    const v = V4[3]!;
    const f = frame4(v.src, v.dst, IPPROTO.TCP, v.sport, v.dport);
    assert.equal(hex(hp(new ToeplitzTable(RSS_KEY_DEFAULT, RSS_HF.IPV4 | RSS_HF.IPV4_UDP), f.u8, f.off, f.len)), hex(v.l3));
    assert.equal(hp(new ToeplitzTable(RSS_KEY_DEFAULT, RSS_HF.IPV4_UDP), f.u8, f.off, f.len), 0);
    assert.equal(hp(new ToeplitzTable(RSS_KEY_DEFAULT, RSS_HF.IPV6), f.u8, f.off, f.len), 0);
  });

  it('refuses a key too short for IPv6+L4 and hash types outside RSS_HF', () => {
    assert.throws(() => new ToeplitzTable(new Uint8Array(39)), (e) => isMpdkError(e, 'EINVAL') && /at least 40 bytes/.test(e.message));
    assert.throws(() => new ToeplitzTable(RSS_KEY_DEFAULT, 64), (e) => isMpdkError(e, 'EINVAL'));
    assert.throws(() => toeplitz(RSS_KEY_DEFAULT, new Uint8Array(37)), (e) => isMpdkError(e, 'EINVAL'));
  });
});

describe('redirection table', () => {
  it('is filled round-robin over the queues by default (128 entries)', () => {
    const r = new Reta(3);
    assert.equal(r.size, 128);
    for (let i = 0; i < 128; i++) assert.equal(r.entries[i], i % 3);
    assert.equal(r.queueOf(0x51ccc178), (0x51ccc178 & 127) % 3);
  });

  it('maps a hash through its low bits and follows set()', () => {
    const r = new Reta(4, 64);
    r.set(0x78 & 63, 3);
    assert.equal(r.queueOf(0x51ccc178), 3);
    r.fill(2);
    assert.equal(r.queueOf(0x51ccc178), (0x78 & 63) % 2);
  });

  it('can live in a caller-provided view (a port memzone) and writes it', () => {
    const backing = new Uint16Array(256).fill(999);
    const r = new Reta(2, 128, backing);
    assert.equal(backing[5], 1);
    assert.equal(backing[128], 999, 'nothing past size is touched');
    assert.equal(r.queueOf(5), 1);
  });

  it('refuses a size that is not a power of two, a bad queue count or index', () => {
    assert.throws(() => new Reta(2, 100), (e) => isMpdkError(e, 'EINVAL') && /power of two/.test(e.message));
    assert.throws(() => new Reta(0), (e) => isMpdkError(e, 'EINVAL'));
    assert.throws(() => new Reta(2, 128, new Uint16Array(64)), (e) => isMpdkError(e, 'EINVAL'));
    const r = new Reta(2);
    assert.throws(() => r.set(128, 0), (e) => isMpdkError(e, 'EINVAL'));
    assert.throws(() => r.set(0, -1), (e) => isMpdkError(e, 'EINVAL'));
    assert.equal(r.entries[0], 0, 'a refused set changes nothing');
  });

  it('sends every packet of a flow to the same queue, and spreads 1024 flows over all queues', () => {
    const t = new ToeplitzTable();
    const r = new Reta(4);
    const flows = FlowSet.make({ count: 1024 });
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < flows.count; i++) {
      const q = r.queueOf(t.hashIpv4L4(flows.srcIp[i]!, flows.dstIp[i]!, flows.sport[i]!, flows.dport[i]!));
      assert.equal(r.queueOf(t.hashIpv4L4(flows.srcIp[i]!, flows.dstIp[i]!, flows.sport[i]!, flows.dport[i]!)), q);
      counts[q]!++;
    }
    for (const c of counts) assert.ok(c > 1024 / 4 / 2, `queue counts ${counts.join(',')} are too uneven`);
  });
});

describe('symmetric mode (key 0x6d5a repeated)', () => {
  it('gives both directions of a flow the same hash, for IPv4, IPv4+L4, IPv6 and IPv6+L4', () => {
    const t = new ToeplitzTable(RSS_KEY_SYMMETRIC);
    for (const v of V4) {
      const a = frame4(v.src, v.dst, IPPROTO.TCP, v.sport, v.dport);
      const b = frame4(v.dst, v.src, IPPROTO.TCP, v.dport, v.sport);
      assert.equal(hp(t, a.u8, a.off, a.len), hp(t, b.u8, b.off, b.len));
      assert.equal(t.hashIpv4(parseIpv4(v.src), parseIpv4(v.dst)), t.hashIpv4(parseIpv4(v.dst), parseIpv4(v.src)));
    }
    for (const v of V6) {
      const a = frame6(v.src, v.dst, IPPROTO.UDP, v.sport, v.dport);
      const b = frame6(v.dst, v.src, IPPROTO.UDP, v.dport, v.sport);
      assert.equal(hp(t, a.u8, a.off, a.len), hp(t, b.u8, b.off, b.len));
      assert.equal(toeplitz(RSS_KEY_SYMMETRIC, input6(v.src, v.dst)), toeplitz(RSS_KEY_SYMMETRIC, input6(v.dst, v.src)));
    }
  });

  it('still spreads flows over queues', () => {
    const t = new ToeplitzTable(RSS_KEY_SYMMETRIC);
    const r = new Reta(4);
    const flows = FlowSet.make({ count: 1024 });
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < flows.count; i++) counts[r.queueOf(t.hashIpv4L4(flows.srcIp[i]!, flows.dstIp[i]!, flows.sport[i]!, flows.dport[i]!))]!++;
    for (const c of counts) assert.ok(c > 1024 / 4 / 2, `queue counts ${counts.join(',')} are too uneven`);
  });

  it('depends only on the XOR of the 16-bit input words (the documented caveat)', () => {
    const t = new ToeplitzTable(RSS_KEY_SYMMETRIC);
    // src low word and sport both +i: (1+i) ^ (1024+i) takes few values, so flows collide.
    const a = t.hashIpv4L4(parseIpv4('10.0.0.2'), parseIpv4('10.1.0.1'), 1025, 5001);
    const b = t.hashIpv4L4(parseIpv4('10.0.0.3'), parseIpv4('10.1.0.1'), 1024, 5001);
    assert.equal(2 ^ 1025, 3 ^ 1024);
    assert.equal(a, b);
    assert.equal(a >>> 16, a & 0xffff, 'upper and lower halves are equal');
  });

  it('is not symmetric with the default key (why the symmetric key exists)', () => {
    const t = new ToeplitzTable(RSS_KEY_DEFAULT);
    const v = V4[0]!;
    assert.notEqual(t.hashIpv4L4(parseIpv4(v.src), parseIpv4(v.dst), v.sport, v.dport), t.hashIpv4L4(parseIpv4(v.dst), parseIpv4(v.src), v.dport, v.sport));
  });
});
