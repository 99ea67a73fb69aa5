/**
 * A varied capture for the filter and net_pcap tests: real headers of every kind tcpdump's
 * language talks about — IPv4 UDP/TCP/ICMP with assorted ports, TCP flags and TTLs, IP
 * options, fragments (first and later), 802.1Q and QinQ tags, IPv6 UDP/TCP/ICMPv6, ARP
 * request and reply, broadcast and multicast addresses, an LLDP frame, and sizes from 42 to
 * 1514 bytes. Every record is whole (caplen = len).
 */
import {
  ETHERTYPE, IPPROTO, PcapWriter, parseIpv4, parseIpv6, parseMac, setIpv4Checksum, setUdpChecksum4, writeEth, writeIpv4, writeIpv6, writeTcp, writeUdp,
} from '../src/index.js';

const MAC_A = parseMac('02:00:00:00:00:0a');
const MAC_B = parseMac('02:00:00:00:00:0b');
const BCAST = parseMac('ff:ff:ff:ff:ff:ff');
const MDNS = parseMac('01:00:5e:00:00:fb');
const LLDP = parseMac('01:80:c2:00:00:0e');
const V6_SOLICITED = parseMac('33:33:ff:00:00:02');

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;
const PSH = 0x08;

interface Opts {
  dst?: Uint8Array;
  src?: Uint8Array;
  vlan?: number;
  qinq?: [number, number];
  ttl?: number;
}

/** The frames, in order (each a fresh Uint8Array). */
export function variedFrames(): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const buf = new Uint8Array(2048);

  const eth = (type: number, o: Opts): number => {
    buf.fill(0);
    if (o.qinq) {
      writeEth(buf, 0, o.dst ?? MAC_B, o.src ?? MAC_A, 0x88a8);
      const [outer, inner] = o.qinq;
      buf.set([outer >> 8, outer & 255, 0x81, 0x00, inner >> 8, inner & 255, type >> 8, type & 255], 14);
      return 22;
    }
    return writeEth(buf, 0, o.dst ?? MAC_B, o.src ?? MAC_A, type, o.vlan ?? -1);
  };
  const push = (len: number): void => {
    frames.push(buf.slice(0, Math.max(len, 60)));
  };
  const udp4 = (src: string, dst: string, sport: number, dport: number, payload: number, o: Opts = {}): void => {
    const ip = eth(ETHERTYPE.IPV4, o);
    const l4 = writeIpv4(buf, ip, parseIpv4(src), parseIpv4(dst), IPPROTO.UDP, 8 + payload, o.ttl ?? 64, frames.length);
    const p = writeUdp(buf, l4, sport, dport, payload);
    for (let i = 0; i < payload; i++) buf[p + i] = (i * 7 + frames.length) & 255;
    setUdpChecksum4(buf, ip, l4);
    push(p + payload);
  };
  const tcp4 = (src: string, dst: string, sport: number, dport: number, flags: number, payload: number, o: Opts = {}): void => {
    const ip = eth(ETHERTYPE.IPV4, o);
    const l4 = writeIpv4(buf, ip, parseIpv4(src), parseIpv4(dst), IPPROTO.TCP, 20 + payload, o.ttl ?? 64, frames.length);
    const p = writeTcp(buf, l4, sport, dport, 1000 + frames.length, 5000, flags);
    for (let i = 0; i < payload; i++) buf[p + i] = (i * 3) & 255;
    push(p + payload);
  };
  const icmp4 = (src: string, dst: string, type: number, ttl: number, payload: number): void => {
    const ip = eth(ETHERTYPE.IPV4, {});
    const l4 = writeIpv4(buf, ip, parseIpv4(src), parseIpv4(dst), 1, 8 + payload, ttl, frames.length);
    buf[l4] = type;
    buf[l4 + 4] = 0x12;
    buf[l4 + 6] = frames.length;
    push(l4 + 8 + payload);
  };
  const v6 = (src: string, dst: string, next: number, l4len: number, o: Opts = {}): number => {
    const ip = eth(ETHERTYPE.IPV6, o);
    return writeIpv6(buf, ip, parseIpv6(src), parseIpv6(dst), next, l4len, o.ttl ?? 64);
  };

  // IPv4 UDP: DNS both ways, mDNS to a multicast group, DHCP to the broadcast address, bulk
  udp4('10.0.0.1', '10.1.0.1', 1024, 53, 30);
  udp4('10.1.0.1', '10.0.0.1', 53, 1024, 120);
  udp4('10.0.0.2', '224.0.0.251', 5353, 5353, 40, { dst: MDNS, ttl: 255 });
  udp4('0.0.0.0', '255.255.255.255', 68, 67, 300, { dst: BCAST, ttl: 128 });
  udp4('10.0.0.3', '10.1.0.2', 1025, 5001, 18);
  udp4('10.0.0.3', '10.1.0.2', 1025, 5001, 1472);
  udp4('10.0.0.4', '10.2.0.9', 7000, 5999, 600, { ttl: 1 });
  udp4('192.168.1.10', '192.168.1.20', 4000, 6000, 64, { ttl: 32 });
  // IPv4 TCP: a handshake, data, FIN, RST; ports 80, 443, 22
  tcp4('10.0.0.1', '10.1.0.1', 40000, 80, SYN, 0);
  tcp4('10.1.0.1', '10.0.0.1', 80, 40000, SYN | ACK, 0);
  tcp4('10.0.0.1', '10.1.0.1', 40000, 80, ACK, 0);
  tcp4('10.0.0.1', '10.1.0.1', 40000, 80, PSH | ACK, 700);
  tcp4('10.1.0.1', '10.0.0.1', 80, 40000, FIN | ACK, 0, { ttl: 63 });
  tcp4('10.0.0.2', '10.1.0.3', 40001, 443, SYN, 0, { ttl: 128 });
  tcp4('10.1.0.3', '10.0.0.2', 443, 40001, RST | ACK, 0);
  tcp4('192.168.1.10', '10.1.0.4', 50000, 22, PSH | ACK, 48, { ttl: 60 });
  // ICMP echo request and reply, time exceeded
  icmp4('10.0.0.1', '10.1.0.1', 8, 64, 56);
  icmp4('10.1.0.1', '10.0.0.1', 0, 62, 56);
  icmp4('10.9.9.9', '10.0.0.1', 11, 250, 28);
  // IPv4 with options (IHL 6): UDP to port 53 behind a 24-byte header
  {
    const ip = eth(ETHERTYPE.IPV4, {});
    const l4 = writeIpv4(buf, ip, parseIpv4('10.0.0.7'), parseIpv4('10.1.0.7'), IPPROTO.UDP, 4 + 8 + 20, 64, 77);
    buf.copyWithin(l4 + 4, l4, l4 + 28);
    buf[ip] = 0x46;
    buf[ip + 2] = 0;
    buf[ip + 3] = 24 + 8 + 20;
    buf.fill(1, l4, l4 + 4); // 4 bytes of NOP options
    setIpv4Checksum(buf, ip);
    writeUdp(buf, l4 + 4, 3000, 53, 20);
    push(l4 + 4 + 8 + 20);
  }
  // Fragments of a UDP datagram to port 53: the first (MF, offset 0) carries the UDP header, the second does not
  {
    const ip = eth(ETHERTYPE.IPV4, {});
    const l4 = writeIpv4(buf, ip, parseIpv4('10.0.0.5'), parseIpv4('10.1.0.5'), IPPROTO.UDP, 8 + 200, 64, 4242);
    buf[ip + 6] = 0x20; // MF, offset 0
    buf[ip + 7] = 0;
    setIpv4Checksum(buf, ip);
    writeUdp(buf, l4, 1053, 53, 1000);
    push(l4 + 208);
    const ip2 = eth(ETHERTYPE.IPV4, {});
    const l42 = writeIpv4(buf, ip2, parseIpv4('10.0.0.5'), parseIpv4('10.1.0.5'), IPPROTO.UDP, 800, 64, 4242);
    buf[ip2 + 6] = 0x00;
    buf[ip2 + 7] = 26; // offset 26 × 8 = 208: no UDP header here
    setIpv4Checksum(buf, ip2);
    buf[l42] = 0;
    buf[l42 + 1] = 53; // bytes that would read as port 53 if taken for a header
    buf[l42 + 2] = 0;
    buf[l42 + 3] = 53;
    push(l42 + 800);
  }
  // 802.1Q and QinQ
  udp4('10.0.0.8', '10.1.0.8', 2000, 53, 50, { vlan: 100 });
  tcp4('10.0.0.8', '10.1.0.8', 2001, 80, SYN, 0, { vlan: 200 });
  udp4('10.0.0.9', '10.1.0.9', 2002, 5001, 90, { vlan: (3 << 13) | 100 });
  udp4('10.0.0.10', '10.1.0.10', 2003, 53, 60, { qinq: [300, 100] });
  // IPv6: UDP to 53, TCP SYN to 443, an ICMPv6 echo request, a neighbour solicitation to its multicast group
  {
    const l4 = v6('2001:db8::1', '2001:db8::2', IPPROTO.UDP, 8 + 40);
    const p = writeUdp(buf, l4, 1024, 53, 40);
    push(p + 40);
  }
  {
    const l4 = v6('2001:db8::1', '2001:db8:1::2', IPPROTO.TCP, 20, { ttl: 50 });
    const p = writeTcp(buf, l4, 40002, 443, 1, 0, SYN);
    push(p);
  }
  {
    const l4 = v6('2001:db8::2', '2001:db8::1', 58, 8 + 32);
    buf[l4] = 128;
    push(l4 + 8 + 32);
  }
  {
    const l4 = v6('2001:db8::1', 'ff02::1:ff00:2', 58, 24, { dst: V6_SOLICITED, ttl: 255 });
    buf[l4] = 135;
    push(l4 + 24);
  }
  {
    const l4 = v6('2001:db8::3', '2001:db8::4', IPPROTO.UDP, 8 + 1000, { vlan: 100 });
    const p = writeUdp(buf, l4, 5000, 5001, 1000);
    push(p + 1000);
  }
  // ARP request (broadcast) and reply
  for (const [dst, op, spa, tpa] of [[BCAST, 1, '10.0.0.1', '10.0.0.254'], [MAC_A, 2, '10.0.0.254', '10.0.0.1']] as const) {
    const a = eth(ETHERTYPE.ARP, { dst, src: op === 1 ? MAC_A : MAC_B });
    buf.set([0, 1, 8, 0, 6, 4, 0, op], a);
    buf.set(op === 1 ? MAC_A : MAC_B, a + 8);
    const s = parseIpv4(spa);
    const t = parseIpv4(tpa);
    buf.set([s >>> 24, (s >>> 16) & 255, (s >>> 8) & 255, s & 255], a + 14);
    if (op === 2) buf.set(MAC_A, a + 18);
    buf.set([t >>> 24, (t >>> 16) & 255, (t >>> 8) & 255, t & 255], a + 24);
    push(a + 28);
  }
  // LLDP
  {
    const p = eth(0x88cc, { dst: LLDP });
    buf.set([0x02, 0x07, 0x04, 0x02, 0, 0, 0, 0, 0x0b], p);
    push(p + 40);
  }
  return frames;
}

/** Write the varied frames to `file` (classic pcap, µs); returns them. */
export function writeVariedPcap(file: string): Uint8Array[] {
  const frames = variedFrames();
  const w = PcapWriter.open(file);
  frames.forEach((f, i) => w.write(f, 0, f.length, f.length, 1700000000 + i, i * 1000));
  w.close();
  return frames;
}
