/**
 * DPDK's telemetry (lib/telemetry, protocol v2) in every process of an instance, so that
 * DPDK's own clients — dpdk-telemetry.py, Telegraf's inputs.dpdk — read mpdk as they read
 * a DPDK application. Where the socket is: telemetry-dir.ts; what a reply looks like:
 * telemetry-json.ts; the commands: registered by each layer (`registerTelemetryCommand`:
 * /eal/* in telemetry-eal.ts, /ethdev/*, /mempool/*, /mpdk/* in src/telemetry/).
 *
 *   protocol: one SOCK_SEQPACKET message each way per request
 *     on connect   {"version":"mpdk X.Y.Z","pid":P,"max_output_len":16384}
 *     request      "/command" or "/command,params" (DPDK's strtok: leading commas skipped,
 *                  params = everything after the next comma, absent when empty)
 *     reply        {"/command":DATA}, DATA null for an unknown command, bad parameters or a
 *                  failing handler — the connection stays open
 *
 *   bounds (DPDK's where it has them)
 *     connections       10; the 11th is accepted and closed at once (DPDK's MAX_CONNECTIONS)
 *     request           1023 bytes (DPDK reads 1024 − 1); a longer one is cut
 *     reply             16384 bytes (telemetry-json.ts leaves out what does not fit)
 *     per turn          16 requests per connection per event-loop turn, 16 accepts; the rest
 *                       waits for the next turn (level-triggered polling)
 *     a full socket     a client that does not read its replies is disconnected (EAGAIN):
 *                       nothing here ever blocks
 *     out of fds        an accept that fails (EMFILE...) pauses accepting for 100 ms: the
 *                       client waits in the backlog, the loop does not spin
 *     who               the folder is 0700 (only its user and root reach the socket); the
 *                       peer's uid (SO_PEERCRED) is checked too: another user is disconnected
 *
 * Where it runs: the main thread's event loop (koffi's node.poll on the descriptors, as
 * the death watch does with pidfds): no thread, nothing while no client talks. A handler
 * runs to completion when the loop gets its turn, so a program whose main thread polls
 * packets answers between its slices (the shipped programs yield every 4 to 50 ms); a
 * handler only reads shared memory through the layers' views and writes nothing, so it
 * cannot disturb the data path.
 */
import { closeFd, peerCred, seqRecv, seqSend, unixAccept, watchReadable, type FdWatch } from '../native/libc.js';
import type { Eal } from './eal.js';
import { MpdkError } from './errors.js';
import { euid } from './safe-open.js';
import { TelemetryListener } from './telemetry-dir.js';
import { encodeReply, MAX_CMD_LEN, MAX_OUTPUT_LEN, type TelValue } from './telemetry-json.js';

export { MAX_OUTPUT_LEN, type TelValue } from './telemetry-json.js';

/** DPDK's MAX_CONNECTIONS. */
export const TELEMETRY_MAX_CONNECTIONS = 10;
const REQUEST_MAX = 1023;
const PER_TURN = 16;
const ACCEPT_RETRY_MS = 100;
const HELP_MAX = 128;

/**
 * A command's handler: `params` is what followed the first comma (undefined when nothing
 * did); the result is the reply's data, undefined or a thrown error a null reply.
 */
export type TelemetryHandler = (cmd: string, params: string | undefined, eal: Eal) => TelValue | undefined;

interface Command {
  cmd: string;
  fn: TelemetryHandler;
  help: string;
}

/** The commands, sorted by name (as DPDK keeps them). */
const commands: Command[] = [];
/** What /info and the greeting call this software. */
let version = 'mpdk';

/**
 * Add a command to every telemetry socket of this process (DPDK's
 * rte_telemetry_register_cmd): `cmd` starts with '/', holds letters, digits, '_' and '/',
 * is shorter than 56 characters; `help` shorter than 128. A second registration of a name
 * replaces the first. EINVAL for a bad name or help.
 */
export function registerTelemetryCommand(cmd: string, fn: TelemetryHandler, help: string): void {
  if (!/^\/[A-Za-z0-9_/]*$/.test(cmd) || cmd.length >= MAX_CMD_LEN) {
    throw new MpdkError('EINVAL', `invalid telemetry command '${cmd}': it starts with '/', holds letters, digits, '_' and '/', and is shorter than ${MAX_CMD_LEN} characters`);
  }
  if (help.length >= HELP_MAX) throw new MpdkError('EINVAL', `the help of telemetry command '${cmd}' is ${help.length} characters long: at most ${HELP_MAX - 1}`);
  const at = commands.findIndex((c) => c.cmd >= cmd);
  const c = { cmd, fn, help };
  if (at < 0) commands.push(c);
  else if (commands[at]!.cmd === cmd) commands[at] = c;
  else commands.splice(at, 0, c);
}

/** The registered command names, sorted. */
export function telemetryCommands(): string[] {
  return commands.map((c) => c.cmd);
}

/** Split a request as DPDK does: strtok(buf, ",") then strtok(NULL, "\0"). */
export function parseRequest(text: string): { cmd: string | undefined; params: string | undefined } {
  const nul = text.indexOf('\0');
  const s = nul >= 0 ? text.slice(0, nul) : text;
  let i = 0;
  while (i < s.length && s[i] === ',') i++;
  if (i === s.length) return { cmd: undefined, params: undefined };
  const comma = s.indexOf(',', i);
  if (comma < 0) return { cmd: s.slice(i), params: undefined };
  const params = s.slice(comma + 1);
  return { cmd: s.slice(i, comma), params: params.length > 0 ? params : undefined };
}

/** The reply to one request, as its text (at most MAX_OUTPUT_LEN bytes). */
export function answer(eal: Eal, request: string): string {
  const { cmd, params } = parseRequest(request);
  if (cmd === undefined) return encodeReply('none', undefined);
  const c = cmd.length < MAX_CMD_LEN ? commands.find((x) => x.cmd === cmd) : undefined;
  let data: TelValue | undefined;
  if (c) {
    try {
      data = c.fn(cmd, params, eal);
    } catch {
      data = undefined; // DPDK: a handler's error is a null reply
    }
  }
  return encodeReply(cmd, data);
}

class Connection {
  readonly watch: FdWatch;

  constructor(readonly fd: number, private readonly server: TelemetryServer) {
    this.watch = watchReadable(fd, () => this.readable());
  }

  private readable(): void {
    const buf = this.server.inBuf;
    for (let k = 0; k < PER_TURN; k++) {
      const n = seqRecv(this.fd, buf);
      if (n === -11 /* EAGAIN */ || n === -4 /* EINTR */) return;
      if (n <= 0) return this.server.drop(this); // the client closed, or an error
      const reply = Buffer.from(answer(this.server.eal, buf.toString('utf8', 0, n)), 'utf8');
      if (seqSend(this.fd, reply, reply.length) !== reply.length) return this.server.drop(this); // full (not reading) or gone
    }
  }
}

/** The telemetry socket of one process (Eal starts and stops it). */
export class TelemetryServer {
  /** Request buffer, shared by the connections (handlers run one at a time). */
  readonly inBuf = Buffer.alloc(REQUEST_MAX);
  private readonly conns = new Set<Connection>();
  private watch: FdWatch | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly greeting: Buffer;

  private constructor(readonly eal: Eal, private readonly listener: TelemetryListener) {
    this.greeting = Buffer.from(JSON.stringify(info()), 'utf8');
    this.watch = watchReadable(listener.fd, () => this.accept());
  }

  /** Serve instance eal.filePrefix's telemetry from this process. MpdkError when no socket can be made. */
  static start(eal: Eal, software: string): TelemetryServer {
    version = software;
    return new TelemetryServer(eal, TelemetryListener.listen(eal.filePrefix));
  }

  /** The socket's path (`dpdk-telemetry.py -f PREFIX [-i N]` finds it). */
  get path(): string {
    return this.listener.path;
  }

  /** Clients connected now. */
  get connections(): number {
    return this.conns.size;
  }

  private accept(): void {
    for (let k = 0; k < PER_TURN; k++) {
      let fd: number;
      try {
        fd = unixAccept(this.listener.fd);
      } catch {
        this.pause(); // EMFILE, ENFILE, ENOMEM...: the client waits in the backlog; look again in a while
        return;
      }
      if (fd < 0) return;
      const peer = peerCred(fd);
      const me = euid();
      if (!peer || (peer.uid !== me && peer.uid !== 0) || this.conns.size >= TELEMETRY_MAX_CONNECTIONS) {
        closeFd(fd);
        continue;
      }
      if (seqSend(fd, this.greeting, this.greeting.length) !== this.greeting.length) {
        closeFd(fd);
        continue;
      }
      try {
        this.conns.add(new Connection(fd, this));
      } catch {
        closeFd(fd); // the event loop could not watch it
      }
    }
  }

  /**
   * Stop accepting for ACCEPT_RETRY_MS: the listener stays readable while a connection it
   * cannot accept waits, and level-triggered polling would spin the event loop.
   */
  private pause(): void {
    this.watch?.close();
    this.watch = undefined;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.watch = watchReadable(this.listener.fd, () => this.accept());
    }, ACCEPT_RETRY_MS);
    this.retry.unref();
  }

  /** Close one connection. */
  drop(c: Connection): void {
    if (!this.conns.delete(c)) return;
    c.watch.close();
    closeFd(c.fd);
  }

  /** Close every connection and the socket, and remove it (telemetry-dir.ts). Idempotent. */
  stop(): void {
    for (const c of [...this.conns]) this.drop(c);
    if (this.retry) clearTimeout(this.retry);
    this.watch?.close();
    this.watch = undefined;
    this.listener.close();
  }
}

function info(): { version: string; pid: number; max_output_len: number } {
  return { version, pid: process.pid, max_output_len: MAX_OUTPUT_LEN };
}

registerTelemetryCommand('/', () => telemetryCommands(), 'Returns list of available commands, Takes no parameters');
registerTelemetryCommand('/info', () => info(), 'Returns DPDK Telemetry information. Takes no parameters');
registerTelemetryCommand('/help', (cmd, params) => {
  const c = commands.find((x) => x.cmd === (params ?? cmd));
  if (!c) return undefined;
  return params === undefined ? c.help : { [params]: c.help };
}, 'Returns help text for a command. Parameters: string command');

/**
 * A command's numeric parameter read as DPDK's handlers read theirs: it must start with a
 * digit; then C's strtoul(params, &end, base) (base 0: 0x.. hex, 0.. octal, else decimal;
 * 10: atoi) takes the longest valid prefix and the rest is ignored. Undefined when absent
 * or not starting with a digit.
 */
export function leadingInt(params: string | undefined, base: 0 | 10): number | undefined {
  if (params === undefined || !/^[0-9]/.test(params)) return undefined;
  if (base === 0 && /^0[xX][0-9a-fA-F]/.test(params)) return parseInt(/^0[xX]([0-9a-fA-F]+)/.exec(params)![1]!, 16);
  if (base === 0 && params[0] === '0') return parseInt(/^0([0-7]*)/.exec(params)![1]! || '0', 8);
  return Number(/^[0-9]+/.exec(params)![0]);
}
