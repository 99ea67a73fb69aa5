/**
 * What a process's open descriptors are, seen from outside, and the chaos run's exact check
 * of them after each kill (chaos-checks.ts FdWatch).
 *
 *   source                     gives
 *   /proc/<pid>/fd/<n>         readlink: socket:[inode], anon_inode:[pidfd|eventfd|...], pipe:[..], a path
 *   /proc/<pid>/fdinfo/<n>     a pidfd's "Pid:" (the process it watches; -1 once that one is reaped)
 *   `ss -xapn` (iproute2)      every unix socket: type, state, bound path, peer inode, holders
 *
 * Each descriptor is one of:
 *
 *   kind        target                        a live process of the instance holds
 *   pidfd       the watched pid               one per other process it watches (deathwatch.ts: eal
 *                                             events, mp connections, a supervisor's children)
 *   mp-in       the connecting peer's pid     one per peer that sent to it (accepted on its mp socket)
 *   mp-out      the listening peer's pid      one per peer it sent to (mp.ts `out`, one per pid)
 *   conn        the other end's pid           stdio to its parent, a supervisor's channel per child
 *   own         the normalized link           what it keeps for life (region, epoll, eventfds,
 *                                             pipes, its listening sockets, the instance folder)
 *   socket?     -                             a socket, when `ss` is not installed: not checked
 *
 * So the exact check (check()): a descriptor that names another process (pidfd, mp-in,
 * mp-out, conn) must name a live one (a dead one's goes when the holder's event loop sees
 * the death: the caller allows it a bounded time), and at most one of each kind per peer
 * (conn: as many as at first sight, stdio being three); `own` descriptors may not be more, per
 * normalized link, than at first sight. Whatever is over is listed by kind and target.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** What a descriptor is (see the table above). */
export type FdKind = 'pidfd' | 'mp-in' | 'mp-out' | 'conn' | 'own' | 'socket?';

export interface FdEntry {
  fd: number;
  kind: FdKind;
  /** The other process (pidfd, mp-in, mp-out, conn): its pid, 0 when the other end is gone. */
  peer: number;
  /** Readable: the link, with the socket's type, path and state for sockets. */
  link: string;
}

/** One unix socket as `ss -xapn` shows it. */
interface UnixSocket {
  type: string;
  state: string;
  path: string;
  peerInode: string;
  holders: number[];
}

let ssMissing = false;

/** Every unix socket of the host by inode (`ss -xapn`); undefined without ss. */
export function unixSockets(): Map<string, UnixSocket> | undefined {
  if (ssMissing) return undefined;
  const r = spawnSync('ss', ['-xapn'], { encoding: 'utf8', timeout: 5000 });
  if (r.error || r.status !== 0) {
    ssMissing = true;
    return undefined;
  }
  const out = new Map<string, UnixSocket>();
  // Netid State Recv-Q Send-Q Local-path Local-inode Peer-path Peer-inode [users:(("comm",pid=N,fd=M),...)]
  const LINE = /^(\S+)\s+(\S+)\s+\d+\s+\d+\s+(\S+)\s+(\d+)\s+\S+\s+(\d+)\s*(.*)$/;
  for (const l of r.stdout.split('\n')) {
    const m = LINE.exec(l);
    if (!m) continue;
    const holders = [...m[6]!.matchAll(/pid=(\d+)/g)].map((x) => Number(x[1]));
    out.set(m[4]!, { type: m[1]!, state: m[2]!, path: m[3]!, peerInode: m[5]!, holders });
  }
  return out;
}

/** The pid a pidfd of `pid` watches (fdinfo "Pid:"), -1 when that process is reaped or unknown. */
function pidfdTarget(pid: number, fd: string): number {
  try {
    const m = /^Pid:\s*(-?\d+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'));
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

/** The mp socket name a process with `pid` listens on (mp-socket.ts: mp.<slot>.<pid>). */
const MP_OWN = (pid: number): RegExp => new RegExp(`/mp\\.\\d+\\.${pid}$`);

/**
 * Every open descriptor of `pid`, classified; undefined when the process is gone. `sockets`:
 * from unixSockets() (taken once for all processes looked at together).
 */
export function fdTable(pid: number, sockets: Map<string, UnixSocket> | undefined): FdEntry[] | undefined {
  let names: string[];
  try {
    names = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  const own = MP_OWN(pid);
  const out: FdEntry[] = [];
  for (const n of names) {
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/${pid}/fd/${n}`);
    } catch {
      continue; // closed while we looked
    }
    const fd = Number(n);
    if (link === 'anon_inode:[pidfd]') {
      const t = pidfdTarget(pid, n);
      out.push({ fd, kind: 'pidfd', peer: t > 0 ? t : 0, link: `pidfd of pid ${t}` });
      continue;
    }
    const sock = /^socket:\[(\d+)\]$/.exec(link);
    if (sock && !sockets) {
      out.push({ fd, kind: 'socket?', peer: 0, link: 'socket' });
      continue;
    }
    let s = sock ? sockets!.get(sock[1]!) : undefined;
    if (sock && !s) {
      // Made since `ss` ran (a connection just accepted): look again, once; not a unix socket if still unknown.
      for (const [k, v] of unixSockets() ?? []) if (!sockets!.has(k)) sockets!.set(k, v);
      s = sockets!.get(sock[1]!);
    }
    if (!sock || !s || s.state === 'LISTEN' || s.state === 'UNCONN') {
      // A listening or unconnected socket is its own, like a file; pipes and anon inodes by kind.
      const what = s ? `${s.type} ${s.state} ${s.path}` : link.replace(/^(pipe|socket):\[\d+\]$/, '$1');
      out.push({ fd, kind: 'own', peer: 0, link: what });
      continue;
    }
    const other = sockets!.get(s.peerInode);
    const peer = other?.holders.find((h) => h !== pid) ?? (other?.holders.includes(pid) ? pid : 0);
    const kind: FdKind = s.type !== 'u_seq' ? 'conn' : own.test(s.path) ? 'mp-in' : 'mp-out';
    out.push({ fd, kind, peer, link: `${s.type} ${s.path === '*' ? '' : `${s.path} `}to ${peer ? `pid ${peer}` : 'a closed end'}` });
  }
  return out.sort((a, b) => a.fd - b.fd);
}

/** What a process held when first seen: its own descriptors per link, its conns per peer. */
export interface FdBaseline {
  own: Map<string, number>;
  conn: Map<number, number>;
}

export function baselineOf(t: FdEntry[]): FdBaseline {
  const b: FdBaseline = { own: new Map(), conn: new Map() };
  for (const e of t) {
    if (e.kind === 'own') b.own.set(e.link, (b.own.get(e.link) ?? 0) + 1);
    else if (e.kind === 'conn') b.conn.set(e.peer, (b.conn.get(e.peer) ?? 0) + 1);
  }
  return b;
}

/**
 * The descriptors of table `t` that should not be there: to a process that is not `alive`,
 * a second one of a kind to one peer, or more own (per link) or conn (per peer) than in `base`.
 * Each as "fd N: kind link (why)".
 */
export function extraFds(t: FdEntry[], base: FdBaseline, alive: (pid: number) => boolean): string[] {
  const bad: string[] = [];
  const seen = new Map<string, number>();
  for (const e of t) {
    const key = e.kind === 'own' ? `own ${e.link}` : `${e.kind} ${e.peer}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    const say = (why: string): number => bad.push(`fd ${e.fd}: ${e.kind} ${e.link} (${why})`);
    if (e.kind === 'socket?') continue;
    if (e.kind === 'own') {
      if (n > (base.own.get(e.link) ?? 0)) say(`${n} now, ${base.own.get(e.link) ?? 0} at first sight`);
      continue;
    }
    if (e.peer === 0 || !alive(e.peer)) {
      say('its process is gone');
      continue;
    }
    const most = e.kind === 'conn' ? Math.max(1, base.conn.get(e.peer) ?? 0) : 1;
    if (n > most) say(`${n} to that process, at most ${most}`);
  }
  return bad;
}
