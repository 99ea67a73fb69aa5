/**
 * Where the EAL's messages go (DPDK's rte_log, with Node's defaults): nowhere, unless the
 * program gives a logger or the user sets the debug switch.
 *
 *   Eal.init option                 a message of a level at or above logLevel goes to
 *   logger: stderrLogger            stderr as `EAL: <message>` (the shipped programs: DPDK's lines)
 *   logger: fn(level, message)      that function
 *   logger: console (or any object  its error / warn / info / debug method
 *     with those four methods)
 *   none, NODE_DEBUG=mpdk           util.debuglog('mpdk'): `MPDK <pid>: <level>: <message>`
 *   none                            nowhere
 *
 * The threshold is the EAL's log level (`--log-level`, `logLevel`; default info), whatever
 * the destination.
 *
 * A worker thread of the process (an lcore, memif's control thread) cannot call a function
 * of the main thread, so its Eal gets a `LogRoute` in the handoff: stderr and the debug
 * switch are taken as they are; a custom logger is reached through a BroadcastChannel that
 * the main thread's Eal opened (messages arrive while the main thread's event loop runs).
 */
import { BroadcastChannel } from 'node:worker_threads';
import { debuglog } from 'node:util';

/** Message levels, most severe first (DPDK's, and `--log-level`'s words). */
export type LogLevel = 'error' | 'warning' | 'info' | 'debug';

/** Rank of each level: a message is kept when its rank is at most the threshold's. */
export const LOG_LEVELS: Readonly<Record<LogLevel, number>> = { error: 0, warning: 1, info: 2, debug: 3 };

/** An object with console's four methods (`console` itself, pino, winston ...). */
export interface ConsoleLike {
  /** A message of level error. */
  error(message: string): void;
  /** A message of level warning. */
  warn(message: string): void;
  /** A message of level info. */
  info(message: string): void;
  /** A message of level debug. */
  debug(message: string): void;
}

/**
 * Where an Eal sends its messages: a function of (level, message), or a console-like
 * object. Called synchronously, on the thread that logs (worker threads: see the header).
 */
export type Logger = ((level: LogLevel, message: string) => void) | ConsoleLike;

/** DPDK's output: `EAL: <message>` on stderr, one line per message. What the shipped programs pass. */
export const stderrLogger: Logger = (_level: LogLevel, message: string): void => {
  process.stderr.write(`EAL: ${message}\n`);
};

/** How a worker thread's Eal reaches its process's logger (plain data: it is in the handoff). */
export type LogRoute = { to: 'none' } | { to: 'stderr' } | { to: 'debuglog' } | { to: 'channel'; name: string };

const debug = debuglog('mpdk');

/** Whether NODE_DEBUG names mpdk (read once, by util.debuglog). */
export function debugSwitchOn(): boolean {
  return debug.enabled;
}

/** One Eal's sink: the level threshold and where kept messages go. */
export class LogSink {
  /** Threshold rank (LOG_LEVELS); messages of higher rank are dropped. */
  private readonly threshold: number;
  private readonly write: ((level: LogLevel, message: string) => void) | undefined;
  private readonly route: LogRoute;
  /** The main thread's end of the channel from workers (made at the first handoff), and its name. */
  private relay: BroadcastChannel | undefined;
  private relayName = '';

  private constructor(threshold: number, write: ((level: LogLevel, message: string) => void) | undefined, route: LogRoute) {
    this.threshold = threshold;
    this.write = write;
    this.route = route;
  }

  /** The sink of an Eal started with `logger` (or none) and threshold `level` (the EAL option). */
  static of(logger: Logger | undefined, level: LogLevel): LogSink {
    const t = LOG_LEVELS[level];
    if (logger === stderrLogger) return new LogSink(t, stderrLogger as (l: LogLevel, m: string) => void, { to: 'stderr' });
    if (typeof logger === 'function') return new LogSink(t, logger, { to: 'none' });
    if (logger) {
      const c = logger;
      const write = (l: LogLevel, m: string): void => {
        if (l === 'error') c.error(m);
        else if (l === 'warning') c.warn(m);
        else if (l === 'info') c.info(m);
        else c.debug(m);
      };
      return new LogSink(t, write, { to: 'none' });
    }
    if (debug.enabled) return new LogSink(t, (l, m) => debug('%s: %s', l, m), { to: 'debuglog' });
    return new LogSink(-1, undefined, { to: 'none' });
  }

  /** The sink of a worker thread's Eal, from its handoff. */
  static routed(route: LogRoute, level: LogLevel): LogSink {
    const t = LOG_LEVELS[level];
    switch (route.to) {
      case 'stderr':
        return new LogSink(t, stderrLogger as (l: LogLevel, m: string) => void, route);
      case 'debuglog':
        return new LogSink(t, (l, m) => debug('%s: %s', l, m), route);
      case 'channel': {
        const ch = new BroadcastChannel(route.name);
        ch.unref();
        return new LogSink(t, (l, m) => ch.postMessage([l, m]), { to: 'none' });
      }
      default:
        return new LogSink(-1, undefined, route);
    }
  }

  /** Whether a message of `level` would go anywhere (to skip building costly ones). */
  wants(level: LogLevel): boolean {
    return LOG_LEVELS[level] <= this.threshold;
  }

  log(level: LogLevel, message: string): void {
    if (this.write !== undefined && LOG_LEVELS[level] <= this.threshold) this.write(level, message);
  }

  /** The route a worker thread's Eal takes to this sink (opens the relay channel for a custom logger). */
  routeForWorker(): LogRoute {
    if (this.route.to !== 'none' || this.write === undefined) return this.route;
    if (!this.relay) {
      const name = `mpdk-log:${process.pid}:${relays++}`;
      this.relay = new BroadcastChannel(name);
      this.relay.unref();
      const write = this.write;
      this.relay.onmessage = (e: unknown): void => {
        const [l, m] = (e as { data: [LogLevel, string] }).data;
        write(l, m);
      };
      this.relayName = name;
    }
    return { to: 'channel', name: this.relayName };
  }

  /** Stop relaying workers' messages (the Eal closed). */
  close(): void {
    this.relay?.close();
    this.relay = undefined;
  }
}

let relays = 0;
