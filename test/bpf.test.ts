/**
 * net/bpf.ts, classic BPF translated into JavaScript: what it refuses (as bpf_validate, and
 * forward jumps only), libpcap's bpf_filter semantics instruction by instruction (loads past
 * the captured length reject, u32 arithmetic, division by zero, shifts, scratch memory,
 * `len` the wire length), the switch form for programs with many jump targets, and
 * libpcap's own programs agreeing with tcpdump on packets cut short by a snap length.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BPF_MAXINSNS, PcapReader, PcapRecord, PcapWriter, bpfSource, compileBpf, compileFilter, validateBpf } from '../src/index.js';
import { variedFrames } from './pcap-varied.js';

// bpf.h opcodes
const LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, RET = 0x06, MISC = 0x07;
const W = 0x00, H = 0x08, B = 0x10;
const IMM = 0x00, ABS = 0x20, IND = 0x40, MEM = 0x60, LEN = 0x80, MSH = 0xa0;
const ADD = 0x00, SUB = 0x10, MUL = 0x20, DIV = 0x30, OR = 0x40, AND = 0x50, LSH = 0x60, RSH = 0x70, NEG = 0x80, MOD = 0x90, XOR = 0xa0;
const JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40;
const X = 0x08, RA = 0x10;

type Insn = [code: number, jt: number, jf: number, k: number];

function prog(...insns: Insn[]): Uint8Array {
  const b = new Uint8Array(insns.length * 8);
  const dv = new DataView(b.buffer);
  insns.forEach(([code, jt, jf, k], i) => {
    dv.setUint16(i * 8, code, true);
    b[i * 8 + 2] = jt;
    b[i * 8 + 3] = jf;
    dv.setUint32(i * 8 + 4, k >>> 0, true);
  });
  return b;
}

const pkt = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 17 + 3) & 255);
/** Run `p` on the first `caplen` bytes of `bytes` (placed at an offset, as in the region), wire length `wire`. */
function run(p: Uint8Array, bytes: Uint8Array, caplen = bytes.length, wire = caplen): number {
  const u8 = new Uint8Array(bytes.length + 100);
  u8.set(bytes, 37);
  return compileBpf(p)(u8, 37, caplen, wire);
}
/** A = f(...) then `ret a`. */
const retA: Insn = [RET | RA, 0, 0, 0];

describe('validateBpf', () => {
  it('refuses what cannot run safely, saying why', () => {
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(0), /empty/],
      [new Uint8Array(7), /whole 8-byte instructions/],
      [prog([JMP | JA, 0, 0, 1], retA), /jumps past the end/],
      [prog([JMP | JEQ, 0, 1, 5], retA), /jumps past the end/],
      [prog([JMP | JEQ, 1, 0, 5], retA), /jumps past the end/],
      [prog([ALU | DIV, 0, 0, 0], retA), /division by the constant 0/],
      [prog([ALU | MOD, 0, 0, 0], retA), /division by the constant 0/],
      [prog([LD | MEM, 0, 0, 16], retA), /scratch word 16/],
      [prog([LDX | MEM, 0, 0, 99], retA), /scratch word 99/],
      [prog([ST, 0, 0, 16], retA), /scratch word 16/],
      [prog([STX, 0, 0, 16], retA), /scratch word 16/],
      [prog([0xff, 0, 0, 0], retA), /unknown/],
      [prog([LD | W | MSH, 0, 0, 0], retA), /unknown load mode/],
      [prog([LD | H | IMM, 0, 0, 0], retA), /unknown load size/],
      [prog([ALU | 0xb0, 0, 0, 0], retA), /unknown ALU operation/],
      [prog([JMP | 0x50, 0, 0, 0], retA), /unknown jump/],
      [prog([RET | X, 0, 0, 0]), /unknown return/],
      [prog([MISC | 0x40, 0, 0, 0], retA), /unknown misc/],
      [prog([LD | IMM, 0, 0, 1]), /last instruction is not a return/],
      [prog(...Array.from({ length: BPF_MAXINSNS + 1 }, (): Insn => retA)), /4097 instructions \(at most 4096\)/],
    ];
    for (const [p, re] of cases) {
      const e = validateBpf(p);
      assert.ok(e !== null && re.test(e), `${re}: got ${e}`);
      assert.throws(() => compileBpf(p), /invalid BPF program/);
    }
    assert.equal(validateBpf(prog(retA)), null);
    assert.equal(validateBpf(prog(...Array.from({ length: BPF_MAXINSNS }, (): Insn => retA))), null);
  });
});

describe('compileBpf: bpf_filter semantics', () => {
  it('a load that reaches past the captured length rejects, exactly at the boundary', () => {
    const p = pkt(64);
    const ok = (q: Uint8Array, caplen: number): boolean => run(q, p, caplen) !== 0;
    const after = (load: Insn): Uint8Array => prog(load, [RET, 0, 0, 1]);
    // ld [10]: needs 14 bytes
    assert.ok(ok(after([LD | W | ABS, 0, 0, 10]), 14));
    assert.ok(!ok(after([LD | W | ABS, 0, 0, 10]), 13));
    assert.ok(ok(after([LD | H | ABS, 0, 0, 10]), 12));
    assert.ok(!ok(after([LD | H | ABS, 0, 0, 10]), 11));
    assert.ok(ok(after([LD | B | ABS, 0, 0, 10]), 11));
    assert.ok(!ok(after([LD | B | ABS, 0, 0, 10]), 10));
    assert.ok(!ok(after([LD | W | ABS, 0, 0, 0xfffffffe]), 64), 'an offset near 2^32 does not wrap around');
    // x + k
    const ind = (size: number, x: number): Uint8Array => prog([LDX | IMM, 0, 0, x], [LD | size | IND, 0, 0, 6], [RET, 0, 0, 1]);
    assert.ok(run(ind(W, 4), p, 14) !== 0);
    assert.ok(run(ind(W, 4), p, 13) === 0);
    assert.ok(run(ind(H, 4), p, 12) !== 0 && run(ind(H, 4), p, 11) === 0);
    assert.ok(run(ind(B, 4), p, 11) !== 0 && run(ind(B, 4), p, 10) === 0);
    assert.ok(run(ind(W, 0xffffffff), p, 64) === 0, 'x + k beyond 2^32 rejects');
    // ldxb 4*([k]&0xf)
    assert.ok(run(after([LDX | B | MSH, 0, 0, 20]), p, 21) !== 0);
    assert.ok(run(after([LDX | B | MSH, 0, 0, 20]), p, 20) === 0);
  });

  it('loads read big-endian bytes; ldxb takes 4 × the low nibble', () => {
    const b = Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0x9a, 0x4f]);
    assert.equal(run(prog([LD | W | ABS, 0, 0, 0], retA), b), 0x12345678);
    assert.equal(run(prog([LD | W | ABS, 0, 0, 2], retA), b), 0x56789a4f);
    assert.equal(run(prog([LD | H | ABS, 0, 0, 3], retA), b), 0x789a);
    assert.equal(run(prog([LD | B | ABS, 0, 0, 4], retA), b), 0x9a);
    assert.equal(run(prog([LDX | B | MSH, 0, 0, 5], [MISC | 0x80, 0, 0, 0], retA), b), 60);
    assert.equal(run(prog([LDX | IMM, 0, 0, 1], [LD | H | IND, 0, 0, 1], retA), b), 0x5678);
  });

  it('A and X are u32: wrapping arithmetic, division by X = 0 returns 0, shifts of 32 or more give 0', () => {
    const e = new Uint8Array(20);
    const a = (v: number, ...ops: Insn[]): number => run(prog([LD | IMM, 0, 0, v], ...ops, retA), e);
    assert.equal(a(0xffffffff, [ALU | ADD, 0, 0, 2]), 1);
    assert.equal(a(1, [ALU | SUB, 0, 0, 2]), 0xffffffff);
    assert.equal(a(0x10000, [ALU | MUL, 0, 0, 0x10001]), 0x10000);
    assert.equal(a(0x80000001, [ALU | MUL, 0, 0, 3]), 0x80000003);
    assert.equal(a(7, [ALU | DIV, 0, 0, 2]), 3);
    assert.equal(a(0xfffffff7, [ALU | DIV, 0, 0, 0x10]), 0x0fffffff);
    assert.equal(a(7, [ALU | MOD, 0, 0, 4]), 3);
    assert.equal(a(7, [LDX | IMM, 0, 0, 0], [ALU | DIV | X, 0, 0, 0]), 0, 'A / X with X = 0: the packet is rejected');
    assert.equal(a(7, [LDX | IMM, 0, 0, 0], [ALU | MOD | X, 0, 0, 0]), 0);
    assert.equal(a(0xf0f0f0f0, [ALU | AND, 0, 0, 0xff00ff00]), 0xf000f000);
    assert.equal(a(0xf0f0f0f0, [ALU | OR, 0, 0, 0x0f000000]), 0xfff0f0f0);
    assert.equal(a(0xf0f0f0f0, [ALU | XOR, 0, 0, 0xffffffff]), 0x0f0f0f0f);
    assert.equal(a(0x80000001, [ALU | LSH, 0, 0, 1]), 2);
    assert.equal(a(0x80000000, [ALU | RSH, 0, 0, 31]), 1);
    assert.equal(a(5, [ALU | LSH, 0, 0, 32]), 0);
    assert.equal(a(5, [LDX | IMM, 0, 0, 33], [ALU | LSH | X, 0, 0, 0]), 0);
    assert.equal(a(5, [LDX | IMM, 0, 0, 40], [ALU | RSH | X, 0, 0, 0]), 0);
    assert.equal(a(5, [LDX | IMM, 0, 0, 2], [ALU | LSH | X, 0, 0, 0]), 20);
    assert.equal(a(1, [ALU | NEG, 0, 0, 0]), 0xffffffff);
    assert.equal(a(0, [ALU | NEG, 0, 0, 0]), 0);
    assert.equal(a(3, [LDX | IMM, 0, 0, 0xfffffffe], [ALU | ADD | X, 0, 0, 0]), 1);
  });

  it('jumps compare unsigned; jset tests bits; ja skips', () => {
    const e = new Uint8Array(20);
    const j = (v: number, op: number, k: number): number => run(prog([LD | IMM, 0, 0, v], [JMP | op, 0, 1, k], [RET, 0, 0, 1], [RET, 0, 0, 2]), e);
    assert.equal(j(0x80000000, JGT, 0x7fffffff), 1, 'unsigned: 2^31 > 2^31 - 1');
    assert.equal(j(5, JGT, 5), 2);
    assert.equal(j(5, JGE, 5), 1);
    assert.equal(j(4, JGE, 5), 2);
    assert.equal(j(0xffffffff, JEQ, 0xffffffff), 1);
    assert.equal(j(6, JSET, 2), 1);
    assert.equal(j(6, JSET, 1), 2);
    assert.equal(run(prog([JMP | JA, 0, 0, 1], [RET, 0, 0, 9], [RET, 0, 0, 7]), e), 7);
    assert.equal(run(prog([LD | IMM, 0, 0, 3], [LDX | IMM, 0, 0, 3], [JMP | JEQ | X, 1, 0, 0], [RET, 0, 0, 9], [RET, 0, 0, 7]), e), 7, 'jeq x');
  });

  it('len is the wire length; the scratch words start at 0 and keep what is stored', () => {
    const e = new Uint8Array(60);
    assert.equal(run(prog([LD | W | LEN, 0, 0, 0], retA), e, 60, 1514), 1514);
    assert.equal(run(prog([LDX | W | LEN, 0, 0, 0], [MISC | 0x80, 0, 0, 0], retA), e, 60, 9000), 9000);
    assert.equal(run(prog([LD | MEM, 0, 0, 15], retA), e), 0);
    assert.equal(run(prog([LD | IMM, 0, 0, 42], [ST, 0, 0, 3], [LD | IMM, 0, 0, 0], [LDX | MEM, 0, 0, 3], [MISC | 0x80, 0, 0, 0], retA), e), 42);
    assert.equal(run(prog([LDX | IMM, 0, 0, 7], [STX, 0, 0, 0], [LD | MEM, 0, 0, 0], retA), e), 7);
  });

  it('a program with more jump targets than nest in blocks runs as a switch, with the same answers', () => {
    // ldb [0]; then for each i: jeq #i jt 0 jf 1 (skip the ret); ret #(i + 1); finally ret #0
    const many = (n: number): Uint8Array => prog([LD | B | ABS, 0, 0, 0], ...Array.from({ length: n }, (_, i): Insn[] => [[JMP | JEQ, 0, 1, i], [RET, 0, 0, i + 1]]).flat(), [RET, 0, 0, 0]);
    for (const n of [50, 1000]) {
      const p = many(n);
      assert.equal(/switch \(pc\)/.test(bpfSource(p)), n > 400, `${n} targets: ${n > 400 ? 'switch' : 'labelled blocks'}`);
      for (let b = 0; b < 256; b++) assert.equal(run(p, Uint8Array.of(b)), b < n ? b + 1 : 0);
    }
  });
});

describe("libpcap's programs", () => {
  const HAVE = spawnSync('tcpdump', ['--version']).status === 0;
  it('agree with tcpdump on packets cut short by a snap length (loads past the captured bytes)', { skip: !HAVE && 'tcpdump is not installed' }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpf-'));
    try {
      const frames = variedFrames();
      const exprs = ['udp port 53', 'tcp[tcpflags] & tcp-syn != 0', 'ip[8] < 64', 'vlan and udp', 'ip6 and tcp', 'icmp[icmptype] = icmp-echo', 'len > 100', 'arp[7] = 1', 'tcp[20] = 0', 'udp[8:2] = 0x0000'];
      for (const snap of [13, 14, 21, 23, 30, 37, 38, 42, 55, 60, 262144]) {
        const file = path.join(dir, `cut${snap}.pcap`);
        const w = PcapWriter.open(file, { snaplen: snap });
        frames.forEach((f, i) => w.write(f, 0, f.length, f.length, i, 0));
        w.close();
        for (const expr of exprs) {
          const f = compileBpf(compileFilter(expr));
          const r = PcapReader.open(file);
          const rec = new PcapRecord();
          const mine: number[] = [];
          for (let i = 0; r.next(rec); i++) if (f(r.buf, rec.offset, rec.caplen, rec.len) !== 0) mine.push(i);
          r.close();
          const t = spawnSync('tcpdump', ['-n', '-r', file, '-tt', expr], { encoding: 'utf8' });
          assert.equal(t.status, 0, t.stderr);
          const theirs = t.stdout.trim().split('\n').filter((l) => l).map((l) => Number(l.split('.')[0]));
          assert.deepEqual(mine, theirs, `'${expr}' on packets cut to ${snap} bytes`);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an expression libpcap refuses is refused with its message', { skip: !HAVE && 'libpcap comes with tcpdump, which is not installed' }, () => {
    assert.throws(() => compileFilter('udp and'), /invalid capture filter 'udp and': can't parse filter expression: syntax error/);
    assert.throws(() => compileFilter('port 99999'), /invalid capture filter 'port 99999': illegal port number 99999 > 65535$/);
    assert.throws(() => compileFilter('ip[8] <'), /invalid capture filter 'ip\[8\] <': can't parse filter expression: syntax error$/);
  });
});
