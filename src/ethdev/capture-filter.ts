/**
 * Capture filters: tcpdump's expression language (`udp and port 53`), compiled by libpcap
 * (native/libpcap.ts, as tcpdump and DPDK's dpdk-dumpcap compile it) into the classic BPF
 * program that CaptureReader.open stores for the queue's owner, who runs it on each packet
 * (capture.ts, net/bpf.ts). Compiling happens in the capturing process, before anything
 * attaches: an expression libpcap refuses is refused with libpcap's own message.
 */
import { MpdkError } from '../eal/errors.js';
import { validateBpf } from '../net/bpf.js';
import { libpcapMissing, pcapCompile, pcapImage } from '../native/libpcap.js';
import { CAP_MAX_SNAPLEN } from './capture.js';

/**
 * Compile `expr` for Ethernet frames captured with `snaplen`. Throws MpdkError EINVAL with
 * libpcap's message for an expression it refuses, ENOENT when libpcap is not installed.
 */
export function compileFilter(expr: string, snaplen = CAP_MAX_SNAPLEN): Uint8Array {
  const missing = libpcapMissing();
  if (missing) throw new MpdkError('ENOENT', missing);
  const r = pcapCompile(expr, snaplen);
  if ('error' in r) throw new MpdkError('EINVAL', `invalid capture filter '${expr}': ${r.error}`);
  const err = validateBpf(r.program);
  if (err !== null) throw new MpdkError('EINVAL', `capture filter '${expr}': libpcap's program cannot run here: ${err}`);
  return r.program;
}

/** A program's instructions as `tcpdump -d` prints them (`(000) ldh      [12]`). */
export function filterImage(program: Uint8Array): string[] {
  const missing = libpcapMissing();
  if (missing) throw new MpdkError('ENOENT', missing);
  return pcapImage(program);
}
