/**
 * Packet headers in place over (u8, offset): builders and parser agree, checksums match
 * published examples, pktgen's test frame carries its payload, MAC helpers and l2fwd's
 * rewrite do what DPDK's l2fwd does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMpdkError } from '../src/eal/errors.js';
import {
  ETH, ETHERTYPE, FLOWS_MAX, FlowSet, UdpFrameBuilder, IPPROTO, IPV4, PAYLOAD, PacketInfo, PayloadInfo, UDP, UDP_FRAME_MIN,
  buildUdpFrame, checkFrameSize, formatIpv4, formatMac, frameChecksum, get16, internetChecksum, ipv4ChecksumOk,
  l2fwdRewrite, L2fwdRewriter, parseFrame, parseIpv4, parseIpv6, parseMac, portMac, put16, readPayload, setUdpChecksum4,
  udpChecksumOk4, writeEth, writeIpv4, writeIpv6, writeTcp, writeUdp,
} from '../src/net/packet.js';

const bytes = (hex: string): Uint8Array => Uint8Array.from(hex.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));
const toHex = (u8: Uint8Array, off = 0, len = u8.length - off): string => Buffer.from(u8.buffer, u8.byteOffset + off, len).toString('hex');

describe('MAC and IP address helpers', () => {
  it('parses and formats a MAC address', () => {
    const m = parseMac('02:00:00:00:00:01');
    assert.deepEqual([...m], [2, 0, 0, 0, 0, 1]);
    assert.equal(formatMac(m), '02:00:00:00:00:01');
    assert.equal(formatMac(parseMac('AA-bb-CC-dd-EE-ff')), 'aa:bb:cc:dd:ee:ff');
  });

  it('refuses a malformed MAC address with EINVAL', () => {
    for (const s of ['02:00:00:00:00', '02:00:00:00:00:01:02', '0g:00:00:00:00:01', '2:0:0:0:0:1', '']) {
      assert.throws(() => parseMac(s), (e) => isMpdkError(e, 'EINVAL') && /six hex byte pairs/.test(e.message), s);
    }
  });

  it('gives port n the MAC 02:00:00:00:00:0n', () => {
    assert.equal(formatMac(portMac(3)), '02:00:00:00:00:03');
  });

  it('parses IPv4 and IPv6 addresses and refuses bad ones', () => {
    assert.equal(parseIpv4('161.142.100.80'), 0xa18e6450);
    assert.equal(formatIpv4(0xa18e6450), '161.142.100.80');
    assert.throws(() => parseIpv4('1.2.3.256'), (e) => isMpdkError(e, 'EINVAL'));
    assert.throws(() => parseIpv4('1.2.3'), (e) => isMpdkError(e, 'EINVAL'));
    assert.equal(toHex(parseIpv6('3ffe:2501:200:3::1')), '3ffe2501020000030000000000000001');
    assert.equal(toHex(parseIpv6('ff02::1')), 'ff020000000000000000000000000001');
    assert.equal(toHex(parseIpv6('::')), '0'.repeat(32));
    assert.equal(toHex(parseIpv6('1:2:3:4:5:6:7:8')), '00010002000300040005000600070008');
    for (const s of ['1::2::3', '1:2:3', '12345::', '1:2:3:4:5:6:7:8:9', '1:2:3:4::5:6:7:8']) {
      assert.throws(() => parseIpv6(s), (e) => isMpdkError(e, 'EINVAL'), s);
    }
  });
});

describe('l2fwd MAC rewrite', () => {
  it('sets dst to 02:00:00:00:00:<dst port> and src to the port MAC, touching nothing else', () => {
    const u8 = new Uint8Array(80).fill(0xab);
    l2fwdRewrite(u8, 7, 1, parseMac('02:00:00:00:00:05'));
    assert.equal(formatMac(u8, 7), '02:00:00:00:00:01');
    assert.equal(formatMac(u8, 13), '02:00:00:00:00:05');
    assert.equal(u8[6], 0xab);
    assert.equal(u8[19], 0xab);
  });
});

describe('checksums', () => {
  it('computes the IPv4 header checksum of a published example (0xb861)', () => {
    const h = bytes('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
    assert.equal(internetChecksum(h, 0, 20), 0xb861);
    writeIpv4(h, 0, 0xc0a80001, 0xc0a800c7, IPPROTO.UDP, 0x73 - 20);
    assert.equal(get16(h, IPV4.CSUM), 0xb861);
    assert.ok(ipv4ChecksumOk(h, 0));
    h[8] = 63;
    assert.ok(!ipv4ChecksumOk(h, 0));
  });

  it('computes a UDP checksum that verifies, and detects a flipped payload bit', () => {
    const u8 = new Uint8Array(100);
    const ip = writeEth(u8, 0, portMac(1), portMac(0), ETHERTYPE.IPV4);
    const udp = writeIpv4(u8, ip, parseIpv4('10.0.0.1'), parseIpv4('10.1.0.1'), IPPROTO.UDP, 8 + 11);
    const p = writeUdp(u8, udp, 1234, 5678, 11);
    u8.set(new TextEncoder().encode('hello world'), p);
    setUdpChecksum4(u8, ip, udp);
    assert.notEqual(get16(u8, udp + UDP.CSUM), 0);
    assert.ok(udpChecksumOk4(u8, ip, udp));
    u8[p + 3] ^= 1;
    assert.ok(!udpChecksumOk4(u8, ip, udp));
  });

  it('frameChecksum is FNV-1a: published vectors for "", "a" and "foobar"', () => {
    const enc = new TextEncoder();
    assert.equal(frameChecksum(new Uint8Array(0), 0, 0), 0x811c9dc5);
    assert.equal(frameChecksum(enc.encode('a'), 0, 1), 0xe40c292c);
    assert.equal(frameChecksum(enc.encode('xfoobar'), 1, 6), 0xbf9cf968);
  });
});

describe('the pktgen test frame', () => {
  const flows = FlowSet.make({ count: 16, srcIp: '10.0.0.1', dstIp: '10.1.0.1', sport: 1024, dport: 5001, vary: ['srcIp', 'dport'] });

  it('is byte-identical to the same frame built header by header', () => {
    const a = new Uint8Array(64 + 5);
    buildUdpFrame(a, 5, flows, 3, 64, 0x01020304, 1234.5);
    const b = new Uint8Array(64);
    const ip = writeEth(b, 0, flows.dstMac, flows.srcMac, ETHERTYPE.IPV4);
    const udp = writeIpv4(b, ip, parseIpv4('10.0.0.4'), parseIpv4('10.1.0.1'), IPPROTO.UDP, 64 - 34);
    const p = writeUdp(b, udp, 1024, 5004, 64 - 42);
    const dv = new DataView(b.buffer);
    dv.setUint32(p + PAYLOAD.MAGIC, 0x4b44504d, true);
    dv.setUint32(p + PAYLOAD.SEQ, 0x01020304, true);
    dv.setUint32(p + PAYLOAD.FLOW, 3, true);
    dv.setFloat64(p + PAYLOAD.TX_TIME, 1234.5, true);
    assert.equal(toHex(a, 5, 64), toHex(b));
    assert.equal(toHex(a, 5 + 42, 4), '4d50444b', 'payload starts with "MPDK"');
  });

  it('parses back: headers, valid IPv4 checksum, payload seq/flow/time', () => {
    const u8 = new Uint8Array(200);
    for (const size of [UDP_FRAME_MIN, 64, 128]) {
      buildUdpFrame(u8, 1, flows, 15, size, 0xfffffffe, 98765.4321);
      const info = new PacketInfo();
      assert.ok(parseFrame(u8, 1, size, info));
      assert.equal(info.ethertype, ETHERTYPE.IPV4);
      assert.equal(info.ipVersion, 4);
      assert.equal(info.proto, IPPROTO.UDP);
      assert.equal(formatIpv4(info.srcIp), '10.0.0.16');
      assert.equal(info.sport, 1024);
      assert.equal(info.dport, 5016);
      assert.equal(get16(u8, info.l3 + IPV4.TOTAL_LEN), size - ETH.HLEN);
      assert.equal(get16(u8, info.l4 + UDP.LEN), size - ETH.HLEN - IPV4.HLEN);
      assert.ok(ipv4ChecksumOk(u8, info.l3));
      const pl = new PayloadInfo();
      assert.ok(readPayload(u8, 1, size, pl));
      assert.deepEqual({ ...pl }, { seq: 0xfffffffe, flow: 15, txTime: 98765.4321 });
    }
  });

  it('UdpFrameBuilder writes exactly buildUdpFrame\'s bytes, at any offset and size', () => {
    for (const size of [UDP_FRAME_MIN, 64, 65, 128, 200, 1514]) {
      const a = new Uint8Array(size + 7).fill(0x5a);
      const b = new Uint8Array(size + 7).fill(0xa5);
      const builder = new UdpFrameBuilder(b, flows, size);
      for (const flow of [0, 7, 15]) {
        buildUdpFrame(a, 3, flows, flow, size, 0xdeadbeef + flow, -flow * 0.25);
        assert.equal(builder.build(3, flow, 0xdeadbeef + flow, -flow * 0.25), size);
        assert.equal(toHex(b, 3, size), toHex(a, 3, size), `size ${size} flow ${flow}`);
      }
      assert.equal(b[2], 0xa5, 'nothing before the frame is touched');
      assert.equal(b[3 + size], 0xa5, 'nothing after the frame is touched');
    }
  });

  it('UdpFrameBuilder.buildSealed writes build\'s frame with the flow id and setUdpChecksum4\'s checksum, 0 sent as 0xffff', () => {
    const hi = FlowSet.make({ count: 4, srcIp: '255.255.255.250', dstIp: '192.168.200.254', vary: ['srcIp', 'sport'] });
    let zeroSums = 0;
    for (const size of [UDP_FRAME_MIN, 64, 65, 1514]) {
      for (const off of [2, 3]) {
        const a = new Uint8Array(size + 8);
        const b = new Uint8Array(size + 8);
        const builder = new UdpFrameBuilder(b, hi, size);
        const ref = new UdpFrameBuilder(a, hi, size);
        // Sequences sweep every low half-word (one of them makes the sum 0xffff), with
        // ids and times whose words carry.
        for (let i = 0; i < (size === 64 && off === 2 ? 70000 : 300); i++) {
          const flow = i & 3;
          const seq = (0xfffe0000 + i * 7) >>> 0;
          const id = (0xffff0000 + i * 13) >>> 0;
          const t = i % 5 === 0 ? -0 : 1.5e15 + i * 0.25;
          ref.build(off, flow, seq, t);
          new DataView(a.buffer).setUint32(off + ETH.HLEN + IPV4.HLEN + UDP.HLEN + PAYLOAD.FLOW, id, true);
          setUdpChecksum4(a, off + ETH.HLEN, off + ETH.HLEN + IPV4.HLEN);
          assert.equal(builder.buildSealed(off, flow, seq, t, id), size);
          if (toHex(a, off, size) !== toHex(b, off, size)) assert.fail(`size ${size} offset ${off} seq ${seq} id ${id} time ${t}: ${toHex(b, off, size)} != ${toHex(a, off, size)}`);
          if (get16(a, off + ETH.HLEN + IPV4.HLEN + UDP.CSUM) === 0xffff) zeroSums++;
        }
      }
    }
    assert.ok(zeroSums > 0, 'a computed checksum of 0 was met and sent as 0xffff');
  });

  it('UdpFrameBuilder refuses a bad size; FlowSet refuses more than FLOWS_MAX flows', () => {
    assert.throws(() => new UdpFrameBuilder(new Uint8Array(64), flows, 40), (e) => isMpdkError(e, 'EINVAL'));
    assert.throws(() => FlowSet.make({ count: FLOWS_MAX + 1 }), (e) => isMpdkError(e, 'EINVAL'));
  });

  it('gets the IPv4 checksum right for high addresses and every size (checked by the generic sum)', () => {
    const hi = FlowSet.make({ count: 4, srcIp: '255.255.255.250', dstIp: '192.168.200.254', vary: ['srcIp'] });
    const u8 = new Uint8Array(1514);
    for (let size = UDP_FRAME_MIN; size <= 1514; size += 97) {
      for (let f = 0; f < 4; f++) {
        buildUdpFrame(u8, 0, hi, f, size, 0, 0);
        assert.ok(ipv4ChecksumOk(u8, ETH.HLEN), `size ${size} flow ${f}`);
      }
    }
  });

  it('zero-fills the payload tail even over old bytes', () => {
    const u8 = new Uint8Array(64).fill(0x77);
    buildUdpFrame(u8, 0, flows, 0, 64, 1, 2);
    assert.ok(u8.subarray(42 + PAYLOAD.LEN).every((b) => b === 0));
  });

  it('readPayload says no to frames without the magic', () => {
    const u8 = new Uint8Array(64);
    buildUdpFrame(u8, 0, flows, 0, 64, 1, 2);
    u8[42] = 0;
    assert.ok(!readPayload(u8, 0, 64, new PayloadInfo()));
    assert.ok(!readPayload(u8, 0, 40, new PayloadInfo()));
  });

  it('refuses sizes outside 62..1514 and bad flow specs', () => {
    assert.throws(() => checkFrameSize(61), (e) => isMpdkError(e, 'EINVAL') && /62 to 1514/.test(e.message));
    assert.throws(() => checkFrameSize(1515), (e) => isMpdkError(e, 'EINVAL'));
    checkFrameSize(64);
    assert.throws(() => FlowSet.make({ count: 0 }), (e) => isMpdkError(e, 'EINVAL'));
    assert.throws(() => FlowSet.make({ sport: 70000 }), (e) => isMpdkError(e, 'EINVAL'));
    assert.throws(() => FlowSet.make({ srcIp: '300.0.0.1' }), (e) => isMpdkError(e, 'EINVAL'));
  });

  it('steps only the fields named in vary', () => {
    const f = FlowSet.make({ count: 3, vary: ['sport'] });
    assert.deepEqual([...f.sport], [1024, 1025, 1026]);
    assert.deepEqual([...f.srcIp].map(formatIpv4), ['10.0.0.1', '10.0.0.1', '10.0.0.1']);
    const g = FlowSet.make({ count: 2 });
    assert.deepEqual([...g.srcIp].map(formatIpv4), ['10.0.0.1', '10.0.0.2'], 'default varies srcIp');
  });
});

describe('parseFrame', () => {
  it('reads a VLAN-tagged IPv4/TCP frame', () => {
    const u8 = new Uint8Array(100);
    const ip = writeEth(u8, 0, portMac(1), portMac(2), ETHERTYPE.IPV4, 0x2064);
    assert.equal(ip, 18);
    const tcp = writeIpv4(u8, ip, parseIpv4('1.2.3.4'), parseIpv4('5.6.7.8'), IPPROTO.TCP, 20);
    writeTcp(u8, tcp, 80, 443);
    const info = new PacketInfo();
    assert.ok(parseFrame(u8, 0, 58, info));
    assert.equal(info.vlanTci, 0x2064);
    assert.equal(info.ethertype, ETHERTYPE.IPV4);
    assert.equal(info.l3, 18);
    assert.equal(info.l4, 38);
    assert.equal(info.payload, 58);
    assert.equal(info.sport, 80);
    assert.equal(info.dport, 443);
  });

  it('reads an IPv6/UDP frame', () => {
    const u8 = new Uint8Array(100);
    const ip = writeEth(u8, 0, portMac(1), portMac(2), ETHERTYPE.IPV6);
    const udp = writeIpv6(u8, ip, parseIpv6('fe80::1'), parseIpv6('ff02::1'), IPPROTO.UDP, 8);
    writeUdp(u8, udp, 546, 547, 0);
    const info = new PacketInfo();
    assert.ok(parseFrame(u8, 0, 62, info));
    assert.equal(info.ipVersion, 6);
    assert.equal(info.proto, IPPROTO.UDP);
    assert.equal(toHex(u8, info.l3 + 24, 16), 'ff020000000000000000000000000001');
    assert.equal(info.sport, 546);
  });

  it('marks IPv4 fragments and does not read their ports', () => {
    const u8 = new Uint8Array(80);
    const ip = writeEth(u8, 0, portMac(1), portMac(2), ETHERTYPE.IPV4);
    const udp = writeIpv4(u8, ip, 1, 2, IPPROTO.UDP, 8);
    writeUdp(u8, udp, 1, 2, 0);
    put16(u8, ip + IPV4.FRAG, 0x2000);
    const info = new PacketInfo();
    assert.ok(parseFrame(u8, 0, 42, info));
    assert.ok(info.fragment);
    assert.equal(info.l4, -1);
  });

  it('returns false for frames shorter than their headers, true with no L3 for non-IP', () => {
    const u8 = new Uint8Array(64);
    buildUdpFrame(u8, 0, FlowSet.make(), 0, 64, 0, 0);
    const info = new PacketInfo();
    assert.ok(!parseFrame(u8, 0, 13, info));
    assert.ok(!parseFrame(u8, 0, 33, info));
    assert.ok(!parseFrame(u8, 0, 41, info));
    assert.ok(parseFrame(u8, 0, 42, info));
    writeEth(u8, 0, portMac(1), portMac(2), ETHERTYPE.ARP);
    assert.ok(parseFrame(u8, 0, 60, info));
    assert.equal(info.ipVersion, 0);
    assert.equal(info.ethertype, ETHERTYPE.ARP);
  });
});

it('L2fwdRewriter.rewriteBulk writes what rewrite writes for every frame of a burst, aligned or not', () => {
  for (const [m, port] of [['02:ab:cd:ef:12:34', 5], ['f2:ff:00:11:22:33', 9], ['02:00:00:00:00:01', 300]] as const) {
    const srcMac = parseMac(m);
    // Bursts of 1 to 11 frames 16 bytes apart, each either 8-aligned or shifted by 1-7.
    for (let n = 1; n <= 11; n++) {
      for (const shift of [[0], [0, 4], [0, 0, 0, 1], [3, 0, 6, 2, 0]]) {
        const offs = Uint32Array.from({ length: n }, (_, i) => 64 + i * 16 + shift[i % shift.length]!);
        const a = new Uint8Array(64 + n * 16 + 32).fill(0xee);
        const b = new Uint8Array(a.length).fill(0xee);
        const ra = new L2fwdRewriter(a);
        const rb = new L2fwdRewriter(b);
        ra.setSource(port, srcMac);
        rb.setSource(port, srcMac);
        for (const off of offs) ra.rewrite(off, port, port);
        rb.rewriteBulk(offs, n, port);
        assert.deepEqual(b, a, `${m} port ${port} n ${n} shifts ${shift.join(',')}`);
      }
    }
  }
});

it('L2fwdRewriter writes exactly the bytes of l2fwdRewrite, aligned or not, and nothing around them', () => {
  const mac = parseMac('02:ab:cd:ef:12:34');
  for (const off of [0, 4, 64, 1, 2, 3, 7]) {
    const a = new Uint8Array(96).fill(0xee);
    const b = new Uint8Array(96).fill(0xee);
    l2fwdRewrite(a, off, 3, mac);
    const rw = new L2fwdRewriter(b);
    rw.setSource(7, mac);
    rw.rewrite(off, 3, 7);
    assert.deepEqual(b, a, `offset ${off}`);
  }
  // l2fwd's own case (out through the port whose MAC it takes): the 8-byte path where aligned,
  // also for a MAC whose first 8 bytes would read as a NaN (kept off that path) and a port ≥ 256.
  for (const [m, port] of [['02:ab:cd:ef:12:34', 5], ['f2:ff:00:11:22:33', 9], ['02:00:00:00:00:01', 300]] as const) {
    const srcMac = parseMac(m);
    for (const off of [0, 8, 64, 4, 1, 6]) {
      const a = new Uint8Array(96).fill(0xee);
      const b = new Uint8Array(96).fill(0xee);
      l2fwdRewrite(a, off, port, srcMac);
      const rw = new L2fwdRewriter(b);
      rw.setSource(port, srcMac);
      rw.rewrite(off, port, port);
      assert.deepEqual(b, a, `${m} port ${port} offset ${off}`); // byte 5 is the port's low byte
    }
  }
});
