// The kernel's TCP info (RTT, congestion window, bytes acked, retransmissions) of this process's
// connections to FL servers, read with iproute2's `ss -tine` in the process's own network
// namespace. Only sockets this process holds count (their inodes, from /proc/self/fd), so adapters
// sharing one namespace (the local backend, tests on loopback) each report their own flows.
// Each flow is matched to the client session that joins that server, for the metric labels.
// A scrape reads at most once per `ttlMs`; every gauge of one scrape shares that read.

import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { readdirSync, readlinkSync } from 'node:fs';
import { isIPv4 } from 'node:net';

export interface TcpFlowInfo {
  /** "ip:port" of this end */
  local: string;
  /** "ip:port" of the other end (an IPv4-mapped IPv6 address is written as plain IPv4) */
  peer: string;
  /** socket inode (with `ss -e`) */
  inode?: number;
  /** smoothed round-trip time and its variation, milliseconds */
  rttMs?: number;
  rttVarMs?: number;
  minRttMs?: number;
  /** congestion window, segments */
  cwnd?: number;
  ssthresh?: number;
  mss?: number;
  bytesSent?: number;
  bytesAcked?: number;
  bytesReceived?: number;
  /** segments retransmitted over the connection's life */
  retransTotal?: number;
  deliveryRateBps?: number;
}

const NUMBER_FIELDS: Record<string, keyof TcpFlowInfo> = {
  cwnd: 'cwnd',
  ssthresh: 'ssthresh',
  mss: 'mss',
  bytes_sent: 'bytesSent',
  bytes_acked: 'bytesAcked',
  bytes_received: 'bytesReceived',
  minrtt: 'minRttMs',
  ino: 'inode',
};

/**
 * One spelling per endpoint: "[::ffff:10.0.0.1]:6000" and "10.0.0.1:6000" → "10.0.0.1:6000";
 * IPv6 in brackets without zone ("[fe80::1%eth0]:6000" → "[fe80::1]:6000").
 */
export function normaliseEndpoint(text: string): string {
  const m = /^\[?(.*?)\]?:(\d+|\*)$/.exec(text);
  if (m === null) return text;
  let host = m[1] as string;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped !== null) host = mapped[1] as string;
  const pct = host.indexOf('%');
  if (pct >= 0) host = host.slice(0, pct);
  return host.includes(':') ? `[${host}]:${m[2]}` : `${host}:${m[2]}`;
}

/**
 * Parses `ss -ti` / `ss -tin` / `ss -tine` output, with or without a State column: a socket line
 * (Recv-Q, Send-Q, local, peer, then `ino:` and other extended fields with -e) followed by an
 * indented line of `key:value` and `key value` fields. Unknown fields are skipped; a socket whose
 * info line is missing is kept with addresses only.
 */
export function parseSsTcpInfo(text: string): TcpFlowInfo[] {
  const out: TcpFlowInfo[] = [];
  let current: TcpFlowInfo | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (/^\s/.test(line)) {
      if (current !== undefined) readInfo(line, current);
      continue;
    }
    const tokens = line.trim().split(/\s+/);
    if (tokens[0] === 'Recv-Q' || tokens[0] === 'State' || tokens[0] === 'Netid') {
      current = undefined;
      continue;
    }
    // a leading State (ESTAB, SYN-SENT, …) or Netid (tcp) column
    while (tokens.length > 0 && !/^\d+$/.test(tokens[0] as string)) tokens.shift();
    if (tokens.length < 4) {
      current = undefined;
      continue;
    }
    current = { local: normaliseEndpoint(tokens[2] as string), peer: normaliseEndpoint(tokens[3] as string) };
    readInfo(tokens.slice(4).join(' '), current);
    out.push(current);
  }
  return out;
}

function readInfo(line: string, flow: TcpFlowInfo): void {
  const tokens = line.trim().split(/\s+/);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as string;
    const colon = t.indexOf(':');
    if (colon < 0) {
      if (t === 'delivery_rate') {
        const bps = rate(tokens[i + 1]);
        if (bps !== undefined) flow.deliveryRateBps = bps;
        i++;
      }
      continue;
    }
    const key = t.slice(0, colon);
    const value = t.slice(colon + 1);
    if (key === 'rtt') {
      const [avg, dev] = value.split('/').map(Number);
      if (avg !== undefined && Number.isFinite(avg)) flow.rttMs = avg;
      if (dev !== undefined && Number.isFinite(dev)) flow.rttVarMs = dev;
    } else if (key === 'retrans') {
      // retrans:<unacked now>/<total>
      const total = Number(value.split('/')[1]);
      if (Number.isFinite(total)) flow.retransTotal = total;
    } else {
      const field = NUMBER_FIELDS[key];
      const n = Number(value);
      if (field !== undefined && value !== '' && Number.isFinite(n)) (flow[field] as number) = n;
    }
  }
}

function rate(text: string | undefined): number | undefined {
  const m = /^([\d.]+)([KMG]?)bps$/.exec(text ?? '');
  if (m === null) return undefined;
  const scale = { '': 1, K: 1e3, M: 1e6, G: 1e9 }[m[2] as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * scale;
}

/** Inodes of the sockets this process holds (empty where /proc does not exist). */
export function ownSocketInodes(fdDir = '/proc/self/fd'): Set<number> {
  const out = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync(fdDir);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${fdDir}/${fd}`));
      if (m !== null) out.add(Number(m[1]));
    } catch {
      // the fd closed while we listed them
    }
  }
  return out;
}

/** The `ss` arguments listing established TCP connections towards any of `ports`. */
export function ssArgs(ports: readonly number[]): string[] {
  const filter = ports.map((p) => `dport = :${p}`).join(' or ');
  return ['-tine', 'state', 'established', `( ${filter} )`];
}

/** Runs ss; rejects with the command and its stderr when it fails. */
export function runSs(args: string[], ssPath = 'ss', timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(ssPath, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) {
        const why = stderr.trim() || err.message;
        reject(new Error(`${ssPath} ${args.join(' ')}: ${why}`));
      } else resolve(stdout);
    });
  });
}

/** A client session and the FL server ("host:port") it joins. */
export interface FlTarget {
  session: string;
  server: string;
}

export interface LabelledFlow extends TcpFlowInfo {
  /** the client sessions joining the server at this flow's peer, comma-separated; "" when none */
  session: string;
}

export interface TcpFlowReaderOptions {
  /** a scrape within this many ms of the last read reuses it (default 1000) */
  ttlMs?: number;
  ssPath?: string;
  /** only sockets of this process (default true) */
  ownOnly?: boolean;
  /** called when ss fails; the read then yields no flows */
  onError?: (err: Error) => void;
}

/** Reads, at most once per ttlMs, the TCP info of this process's connections to its FL servers. */
export class TcpFlowReader {
  private last?: { at: number; flows: Promise<LabelledFlow[]> };
  private readonly resolved = new Map<string, { at: number; addresses: Promise<string[]> }>();

  constructor(
    private readonly targets: () => FlTarget[],
    private readonly opts: TcpFlowReaderOptions = {},
  ) {}

  flows(): Promise<LabelledFlow[]> {
    const now = Date.now();
    if (this.last !== undefined && now - this.last.at < (this.opts.ttlMs ?? 1000)) return this.last.flows;
    const flows = this.read();
    this.last = { at: now, flows };
    return flows;
  }

  private async read(): Promise<LabelledFlow[]> {
    const byEndpoint = new Map<string, string[]>();
    for (const t of this.targets()) {
      const sep = t.server.lastIndexOf(':');
      const port = Number(t.server.slice(sep + 1));
      if (sep <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) continue;
      const host = t.server.slice(0, sep).replace(/^\[|\]$/g, '');
      for (const address of await this.addresses(host)) {
        const key = normaliseEndpoint(`${address}:${port}`);
        byEndpoint.set(key, [...(byEndpoint.get(key) ?? []), t.session]);
      }
    }
    if (byEndpoint.size === 0) return [];
    const ports = [...new Set([...byEndpoint.keys()].map((k) => Number(k.slice(k.lastIndexOf(':') + 1))))];
    let text: string;
    try {
      text = await runSs(ssArgs(ports), this.opts.ssPath);
    } catch (err) {
      this.opts.onError?.(err as Error);
      return [];
    }
    const own = this.opts.ownOnly === false ? undefined : ownSocketInodes();
    return parseSsTcpInfo(text)
      .filter((f) => own === undefined || (f.inode !== undefined && own.has(f.inode)))
      .filter((f) => byEndpoint.has(f.peer))
      .map((f) => ({ ...f, session: [...new Set(byEndpoint.get(f.peer))].sort().join(',') }));
  }

  /** The addresses of a server host: itself when it is an IP, else its DNS answers (cached 30 s). */
  private async addresses(host: string): Promise<string[]> {
    if (isIPv4(host) || host.includes(':')) return [host];
    const hit = this.resolved.get(host);
    if (hit !== undefined && Date.now() - hit.at < 30_000) return hit.addresses;
    const addresses = lookup(host, { all: true }).then(
      (r) => r.map((a) => a.address),
      () => [] as string[],
    );
    this.resolved.set(host, { at: Date.now(), addresses });
    return addresses;
  }
}
