/**
 * pktgen's receive side: which frames that come back are ours, per-flow sequence checks
 * and latency. Process-local (nothing in shared memory); the run loop calls `record` per
 * matched frame, allocation-free.
 *
 *   who calls what
 *   main.ts run loop    counter.record(flow, seq, latencyUs, len) per intact frame whose
 *                       payload has pktgen's magic and a TX time from this run;
 *                       counter.corrupt++ for one with the magic that fails seal.ts's
 *                       check; counter.foreign++ for anything else
 *   main.ts report      counter.latency.quantile(0.5 / 0.99), counter fields
 *
 * Sequence check per flow (the anti-replay window of IPsec, RFC 4303 §3.4.3): `hi` is the
 * highest sequence seen, and a 64-bit window remembers which of hi−63..hi arrived.
 *   seq > hi              in order (a gap is NOT loss yet: loss is sent − received at the end)
 *   hi−63 ≤ seq < hi      bit set: a duplicate; bit clear: reordered (late), bit set now
 *   seq < hi−63           reordered (too late to tell a duplicate from a late frame)
 *
 * Latency histogram: log-linear over integer nanoseconds, 32 sub-buckets per power of two
 * (≤ 3 % error), exact below 64 ns, capped at 2^32 ns (4.3 s).
 */

const SUB_BITS = 5;
const SUB = 1 << SUB_BITS;
/** 0..63 exact, then 32 buckets for each exponent 6..31. */
const BUCKETS = 2 * SUB + (31 - 6 + 1) * SUB;

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  n = 0;
  sumUs = 0;
  minUs = Infinity;
  maxUs = 0;

  add(us: number): void {
    const v = us <= 0 ? 0 : us >= 4294967.295 ? 4294967295 : (us * 1000) >>> 0;
    let i: number;
    if (v < 2 * SUB) i = v;
    else {
      const e = 31 - Math.clz32(v);
      i = 2 * SUB + (e - 6) * SUB + ((v >>> (e - SUB_BITS)) & (SUB - 1));
    }
    this.counts[i]++;
    this.n++;
    this.sumUs += us;
    if (us < this.minUs) this.minUs = us;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** Middle of bucket i, in µs. */
  static bucketUs(i: number): number {
    if (i < 2 * SUB) return i / 1000;
    const e = 6 + ((i - 2 * SUB) >> SUB_BITS);
    const sub = (i - 2 * SUB) & (SUB - 1);
    const width = 2 ** (e - SUB_BITS);
    return ((SUB + sub) * width + width / 2) / 1000;
  }

  /** The q-quantile (0 < q ≤ 1) in µs, clamped to [min, max]; 0 when empty. */
  quantile(q: number): number {
    if (this.n === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let acc = 0;
    for (let i = 0; i < BUCKETS; i++) {
      acc += this.counts[i]!;
      if (acc >= rank) return Math.min(this.maxUs, Math.max(this.minUs, LatencyHistogram.bucketUs(i)));
    }
    return this.maxUs;
  }

  get meanUs(): number {
    return this.n ? this.sumUs / this.n : 0;
  }
}

export class RxCounter {
  readonly flows: number;
  /** Highest sequence seen per flow (−1: none yet). */
  private readonly hi: Float64Array;
  /** Window bits per flow: [2f] = seqs hi..hi−31 (bit 0 = hi), [2f+1] = hi−32..hi−63. */
  private readonly win: Uint32Array;
  /** Frames received per flow. */
  readonly perFlow: Float64Array;
  received = 0;
  /** Frame bytes received (as stored: no FCS). */
  bytes = 0;
  reordered = 0;
  duplicates = 0;
  /** Frames that were not this run's (no magic, unknown flow, TX time outside the run). */
  foreign = 0;
  /** Frames with pktgen's magic whose checksums or lengths are wrong (seal.ts); not received. */
  corrupt = 0;
  readonly latency = new LatencyHistogram();

  constructor(flows: number) {
    this.flows = flows;
    this.hi = new Float64Array(flows).fill(-1);
    this.win = new Uint32Array(2 * flows);
    this.perFlow = new Float64Array(flows);
  }

  /** One frame of flow `flow` (< flows) with sequence `seq`, `latUs` after it was sent. */
  record(flow: number, seq: number, latUs: number, len: number): void {
    this.received++;
    this.bytes += len;
    this.perFlow[flow]++;
    this.latency.add(latUs);
    const win = this.win;
    const w = flow << 1;
    const hi = this.hi[flow]!;
    if (seq > hi) {
      const d = seq - hi;
      if (d >= 64) {
        win[w] = 1;
        win[w + 1] = 0;
      } else if (d >= 32) {
        win[w + 1] = win[w]! << (d - 32);
        win[w] = 1;
      } else {
        win[w + 1] = (win[w + 1]! << d) | (win[w]! >>> (32 - d));
        win[w] = (win[w]! << d) | 1;
      }
      this.hi[flow] = seq;
      return;
    }
    const d = hi - seq;
    if (d >= 64) {
      this.reordered++;
      return;
    }
    const wi = d < 32 ? w : w + 1;
    const bit = 1 << (d & 31);
    if (win[wi]! & bit) {
      this.duplicates++;
      return;
    }
    win[wi] = win[wi]! | bit;
    this.reordered++;
  }
}
