/**
 * Classic BPF (the filter programs libpcap compiles tcpdump's expressions into) translated
 * once into a JavaScript function, so that a capture filter costs a few instructions per
 * packet in the process that owns the queue (ethdev/capture.ts), as DPDK's pdump runs its
 * filter through rte_bpf. Pure: it knows nothing of libpcap (native/libpcap.ts compiles the
 * expression) nor of shared memory.
 *
 *   program = n instructions of 8 bytes, as struct bpf_insn in memory (little-endian here):
 *     0 CODE u16   class | size | mode, or class | op | source (bpf.h's encoding, below)
 *     2 JT u8      conditional jumps: how many instructions to skip when true,
 *     3 JF u8                                                   when false
 *     4 K u32      the constant operand (offset, immediate, scratch index, jump distance)
 *
 *   who calls what
 *   dumpcap    (via compileFilter) validateBpf(program) before storing it
 *   capture    compileBpf(program) once per capture session, then the function per packet:
 *              filter(u8, off, caplen, wirelen) → 0 = drop, else the bytes to keep
 *
 * Semantics are libpcap's bpf_filter() (bpf_filter.c), which tcpdump -r applies: A and X are
 * u32, the scratch memory 16 words (zeroed), a load that reaches past caplen returns 0 (the
 * packet is rejected), `len` is the wire length, division by a zero X returns 0, a shift by
 * 32 or more gives 0. validateBpf is libpcap's bpf_validate, stricter: only the opcodes
 * bpf_filter implements, every jump forward and inside the program (so a program always
 * ends, after at most n instructions), the last instruction a return, at most 4096.
 *
 * The function is straight-line code: each jump target ends a labelled block opened at the
 * top, so a jump is `break Lt` (forward jumps nest properly). Programs with more targets
 * than V8's parser nests comfortably fall back to a switch on the instruction index.
 */

/** Bytes per instruction. */
export const BPF_INSN_BYTES = 8;
/** libpcap's BPF_MAXINSNS. */
export const BPF_MAXINSNS = 4096;
/** Scratch memory words (BPF_MEMWORDS). */
export const BPF_MEMWORDS = 16;

// bpf.h
const LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, RET = 0x06, MISC = 0x07;
const W = 0x00, H = 0x08, B = 0x10;
const IMM = 0x00, ABS = 0x20, IND = 0x40, MEM = 0x60, LEN = 0x80, MSH = 0xa0;
const ADD = 0x00, SUB = 0x10, MUL = 0x20, DIV = 0x30, OR = 0x40, AND = 0x50, LSH = 0x60, RSH = 0x70, NEG = 0x80, MOD = 0x90, XOR = 0xa0;
const JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40;
const SRC_X = 0x08;
const RVAL_A = 0x10;
const TAX = 0x00, TXA = 0x80;

/** Most distinct jump targets compiled as nested labelled blocks (V8's parser recurses per block). */
const MAX_NESTED_TARGETS = 400;

/** A compiled filter: 0 drops the packet, any other value is how many bytes to keep. */
export type BpfFilter = (u8: Uint8Array, off: number, caplen: number, wirelen: number) => number;

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

function decode(program: Uint8Array): Insn[] {
  const dv = new DataView(program.buffer, program.byteOffset, program.byteLength);
  const out: Insn[] = [];
  for (let i = 0; i + BPF_INSN_BYTES <= program.byteLength; i += BPF_INSN_BYTES) {
    out.push({ code: dv.getUint16(i, true), jt: program[i + 2]!, jf: program[i + 3]!, k: dv.getUint32(i + 4, true) });
  }
  return out;
}

/** Does bpf_filter() implement this opcode (and its constant, for the ones that check it)? */
function insnError(p: Insn, i: number, n: number): string | null {
  const cls = p.code & 0x07;
  const bad = `instruction ${i} (code 0x${p.code.toString(16)})`;
  switch (cls) {
    case LD:
    case LDX: {
      const size = p.code & 0x18;
      const mode = p.code & 0xe0;
      if (cls === LD) {
        if (mode === ABS || mode === IND) {
          if (size !== W && size !== H && size !== B) return `${bad}: unknown load size`;
        } else if (mode === IMM || mode === MEM || mode === LEN) {
          if (size !== W) return `${bad}: unknown load size`;
        } else return `${bad}: unknown load mode`;
      } else if (mode === MSH) {
        if (size !== B) return `${bad}: ldx msh loads a byte`;
      } else if (mode === IMM || mode === MEM || mode === LEN) {
        if (size !== W) return `${bad}: unknown load size`;
      } else return `${bad}: unknown ldx mode`;
      if (mode === MEM && p.k >= BPF_MEMWORDS) return `${bad}: scratch word ${p.k} (there are ${BPF_MEMWORDS})`;
      return null;
    }
    case ST:
    case STX:
      if (p.code !== cls) return `${bad}: unknown store`;
      if (p.k >= BPF_MEMWORDS) return `${bad}: scratch word ${p.k} (there are ${BPF_MEMWORDS})`;
      return null;
    case ALU: {
      const op = p.code & 0xf0;
      if ((p.code & ~(0xf0 | SRC_X)) !== ALU) return `${bad}: unknown ALU operation`;
      if (op === NEG) return (p.code & SRC_X) === 0 ? null : `${bad}: unknown ALU operation`;
      if (![ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, MOD, XOR].includes(op)) return `${bad}: unknown ALU operation`;
      if ((op === DIV || op === MOD) && (p.code & SRC_X) === 0 && p.k === 0) return `${bad}: division by the constant 0`;
      return null;
    }
    case JMP: {
      const op = p.code & 0xf0;
      if ((p.code & ~(0xf0 | SRC_X)) !== JMP) return `${bad}: unknown jump`;
      if (op === JA) {
        if (p.code & SRC_X) return `${bad}: unknown jump`;
        if (i + 1 + p.k >= n) return `${bad}: jumps past the end`;
        return null;
      }
      if (op !== JEQ && op !== JGT && op !== JGE && op !== JSET) return `${bad}: unknown jump`;
      if (i + 1 + p.jt >= n || i + 1 + p.jf >= n) return `${bad}: jumps past the end`;
      return null;
    }
    case RET:
      return p.code === (RET | RVAL_A) || p.code === RET ? null : `${bad}: unknown return`;
    case MISC:
      return p.code === (MISC | TAX) || p.code === (MISC | TXA) ? null : `${bad}: unknown misc operation`;
  }
  return `${bad}: unknown class`;
}

/**
 * Check a program as bpf_validate does (and a little more: see the file header). Returns
 * null when it is safe to compile, or what is wrong with it.
 */
export function validateBpf(program: Uint8Array): string | null {
  if (program.byteLength % BPF_INSN_BYTES !== 0) return `a program is whole ${BPF_INSN_BYTES}-byte instructions (got ${program.byteLength} bytes)`;
  const insns = decode(program);
  const n = insns.length;
  if (n < 1) return 'the program is empty';
  if (n > BPF_MAXINSNS) return `the program has ${n} instructions (at most ${BPF_MAXINSNS})`;
  for (let i = 0; i < n; i++) {
    const e = insnError(insns[i]!, i, n);
    if (e !== null) return e;
  }
  if ((insns[n - 1]!.code & 0x07) !== RET) return 'the last instruction is not a return';
  return null;
}

/** Where each instruction may jump (forward only: validated). */
function targetsOf(insns: readonly Insn[]): number[] {
  const t = new Set<number>();
  insns.forEach((p, i) => {
    if ((p.code & 0x07) !== JMP) return;
    if ((p.code & 0xf0) === JA) {
      if (p.k !== 0) t.add(i + 1 + p.k);
    } else {
      if (p.jt !== 0) t.add(i + 1 + p.jt);
      if (p.jf !== 0) t.add(i + 1 + p.jf);
    }
  });
  return [...t].sort((a, b) => a - b);
}

/** The JavaScript statement of instruction i; `jump(t)` is how control reaches instruction t. */
function statement(p: Insn, i: number, jump: (t: number) => string): string {
  const k = p.k >>> 0;
  const x = (p.code & SRC_X) !== 0;
  const src = x ? 'x' : String(k);
  const word = (at: string): string => `((u8[${at}] << 24) | (u8[${at} + 1] << 16) | (u8[${at} + 2] << 8) | u8[${at} + 3]) >>> 0`;
  const half = (at: string): string => `((u8[${at}] << 8) | u8[${at} + 1])`;
  switch (p.code) {
    case LD | W | ABS: return `if (len < ${k + 4}) return 0; a = ${word(`o + ${k}`)};`;
    case LD | H | ABS: return `if (len < ${k + 2}) return 0; a = ${half(`o + ${k}`)};`;
    case LD | B | ABS: return `if (len < ${k + 1}) return 0; a = u8[o + ${k}];`;
    case LD | W | IND: return `t = x + ${k}; if (len < t + 4) return 0; t += o; a = ${word('t')};`;
    case LD | H | IND: return `t = x + ${k}; if (len < t + 2) return 0; t += o; a = ${half('t')};`;
    case LD | B | IND: return `t = x + ${k}; if (len < t + 1) return 0; a = u8[o + t];`;
    case LD | W | LEN: return 'a = wire;';
    case LDX | W | LEN: return 'x = wire;';
    case LD | IMM: return `a = ${k};`;
    case LDX | IMM: return `x = ${k};`;
    case LD | MEM: return `a = m${k};`;
    case LDX | MEM: return `x = m${k};`;
    case LDX | B | MSH: return `if (len < ${k + 1}) return 0; x = (u8[o + ${k}] & 15) << 2;`;
    case ST: return `m${k} = a;`;
    case STX: return `m${k} = x;`;
    case MISC | TAX: return 'x = a;';
    case MISC | TXA: return 'a = x;';
    case RET: return `return ${k};`;
    case RET | RVAL_A: return 'return a;';
  }
  const cls = p.code & 0x07;
  const op = p.code & 0xf0;
  if (cls === ALU) {
    switch (op) {
      case ADD: return `a = (a + ${src}) >>> 0;`;
      case SUB: return `a = (a - ${src}) >>> 0;`;
      case MUL: return `a = Math.imul(a, ${src}) >>> 0;`;
      case DIV: return x ? 'if (x === 0) return 0; a = Math.floor(a / x);' : `a = Math.floor(a / ${k});`;
      case MOD: return x ? 'if (x === 0) return 0; a = a % x;' : `a = a % ${k};`;
      case AND: return `a = (a & ${src}) >>> 0;`;
      case OR: return `a = (a | ${src}) >>> 0;`;
      case XOR: return `a = (a ^ ${src}) >>> 0;`;
      case LSH: return x ? 'a = x < 32 ? (a << x) >>> 0 : 0;' : k < 32 ? `a = (a << ${k}) >>> 0;` : 'a = 0;';
      case RSH: return x ? 'a = x < 32 ? a >>> x : 0;' : k < 32 ? `a = a >>> ${k};` : 'a = 0;';
      case NEG: return 'a = (-a) >>> 0;';
    }
  }
  if (cls === JMP) {
    if (op === JA) return p.k === 0 ? '' : jump(i + 1 + k);
    const cond = op === JEQ ? `a === ${src}` : op === JGT ? `a > ${src}` : op === JGE ? `a >= ${src}` : `(a & ${src}) !== 0`;
    const t = i + 1 + p.jt;
    const f = i + 1 + p.jf;
    if (p.jt === 0 && p.jf === 0) return '';
    if (p.jf === 0) return `if (${cond}) ${jump(t)}`;
    if (p.jt === 0) return `if (!(${cond})) ${jump(f)}`;
    return `if (${cond}) ${jump(t)} else ${jump(f)}`;
  }
  throw new Error(`bpf: no translation for code 0x${p.code.toString(16)}`); // validateBpf refuses it first
}

/**
 * The JavaScript body of a validated program, as a function of (u8, o, len, wire) (exposed
 * for tests and for `dumpcap -d`-style inspection).
 */
export function bpfSource(program: Uint8Array): string {
  const insns = decode(program);
  const used = new Set<number>();
  for (const p of insns) {
    const cls = p.code & 0x07;
    if (cls === ST || cls === STX || ((cls === LD || cls === LDX) && (p.code & 0xe0) === MEM)) used.add(p.k);
  }
  const head = [`let a = 0, x = 0, t = 0;`];
  if (used.size > 0) head.push(`let ${[...used].sort((a, b) => a - b).map((k) => `m${k} = 0`).join(', ')};`);
  const targets = targetsOf(insns);
  const lines: string[] = [];
  if (targets.length <= MAX_NESTED_TARGETS) {
    // Every block opens here and ends at its target: inner blocks end first, so they nest.
    lines.push(targets.map((t) => `L${t}: {`).reverse().join(' '));
    const isTarget = new Set(targets);
    insns.forEach((p, i) => {
      if (isTarget.has(i)) lines.push(`} // L${i}`);
      const s = statement(p, i, (t) => `break L${t};`);
      if (s) lines.push(s);
    });
  } else {
    lines.push('let pc = 0;', 'for (;;) switch (pc) {');
    insns.forEach((p, i) => {
      lines.push(`case ${i}:`);
      const s = statement(p, i, (t) => `{ pc = ${t}; continue; }`);
      if (s) lines.push(s);
    });
    lines.push('default: return 0;', '}');
  }
  return [...head, ...lines, 'return 0;'].join('\n');
}

/**
 * Translate a program into a filter function. Throws an Error naming the problem when
 * validateBpf refuses it (the program must not run).
 */
export function compileBpf(program: Uint8Array): BpfFilter {
  const err = validateBpf(program);
  if (err !== null) throw new Error(`invalid BPF program: ${err}`);
  return new Function('u8', 'o', 'len', 'wire', bpfSource(program)) as BpfFilter;
}
