// Reachability and throughput between hosts of a local run. pingAll pings every ordered pair
// with `ping -I <source address>` (loopback answers every 127.x address); where ping is missing
// or not permitted, a TCP connection attempt from the source address stands in: an answer, even
// a refusal, means the kernel reached the target. iperf runs iperf3 between two hosts' addresses.

import { connect } from 'node:net';
import { iperf3Between, pingReport } from '../measure.ts';
import type { IperfResult, PingReport } from '../network.ts';
import { mapLimit } from '../../../common/map-limit.ts';
import { run } from '../sh.ts';
import { findExecutable } from './processes.ts';

export interface Endpoint {
  name: string;
  /** address without prefix */
  ip: string;
}

/** A port nothing is expected to listen on; a refusal there is the answer looked for. */
const TCP_PROBE_PORT = 9;
/** sources pinging at once (each pings all its targets at once) */
const PING_SOURCES = 4;
const TCP_PARALLEL = 32;

/** How pairs are probed on this machine: 'ping' when ping runs from a 127.x source, else 'tcp'. */
export async function probeMethod(): Promise<'ping' | 'tcp'> {
  if (!findExecutable('ping')) return 'tcp';
  try {
    await run(['ping', '-n', '-q', '-c', '1', '-W', '1', '-I', '127.0.0.1', '127.0.0.1'], {
      timeoutMs: 5000,
    });
    return 'ping';
  } catch {
    return 'tcp';
  }
}

/**
 * Pings every target from `src` at once (one shell, one ping per target in the background);
 * returns target address → packets received.
 */
async function pingFrom(src: Endpoint, targets: readonly Endpoint[], count: number, waitS: number) {
  // Each ping's summary line goes out in one echo (atomic on a pipe), so parallel jobs do not mix.
  const script =
    'c=$1; w=$2; src=$3; shift 3; for ip in "$@"; do ' +
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
    '{ o=$(ping -n -q -c "$c" -i 0.2 -W "$w" -I "$src" "$ip" 2>&1); echo "@ $ip ${o#*transmitted, }"; } & done; wait';
  const { stdout } = await run(
    ['sh', '-c', script, 'sh', String(count), String(waitS), src.ip, ...targets.map((t) => t.ip)],
    { timeoutMs: (count * 0.2 + waitS) * 1000 + 30_000 },
  );
  const got = new Map<string, number>();
  for (const m of stdout.matchAll(/^@ (\S+) (\d+) received/gm)) got.set(m[1] as string, Number(m[2]));
  return got;
}

function tcpAnswer(src: Endpoint, dst: Endpoint, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: dst.ip, port: TCP_PROBE_PORT, localAddress: src.ip });
    const done = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
  });
}

async function tcpPair(src: Endpoint, dst: Endpoint, count: number, timeoutMs: number): Promise<number> {
  let got = 0;
  for (let i = 0; i < count; i++) if (await tcpAnswer(src, dst, timeoutMs)) got += 1;
  return got;
}

/**
 * Probes every ordered pair of `hosts` `count` times; pairs short of `count` are probed once more.
 * `method` overrides the choice made by probeMethod().
 */
export async function pingAllPairs(
  hosts: readonly Endpoint[],
  opts: { count?: number; timeoutMs?: number; method?: 'ping' | 'tcp' } = {},
): Promise<PingReport> {
  const count = Math.max(1, Math.floor(opts.count ?? 1));
  const timeoutMs = opts.timeoutMs ?? 1000;
  const method = opts.method ?? (await probeMethod());
  const waitS = Math.max(1, Math.ceil(timeoutMs / 1000));
  const pairs = hosts.flatMap((src) => hosts.filter((dst) => dst !== src).map((dst) => ({ src, dst })));
  const matrix: Record<string, Record<string, number>> = {};
  for (const h of hosts) matrix[h.name] = {};
  const probeAll = async (list: typeof pairs) => {
    const bySource = new Map<Endpoint, Endpoint[]>();
    for (const { src, dst } of list) bySource.set(src, [...(bySource.get(src) ?? []), dst]);
    await mapLimit([...bySource], method === 'ping' ? PING_SOURCES : 1, async ([src, targets]) => {
      const row = matrix[src.name] as Record<string, number>;
      if (method === 'ping') {
        const got = await pingFrom(src, targets, count, waitS);
        for (const t of targets) row[t.name] = got.get(t.ip) ?? 0;
      } else {
        await mapLimit(targets, TCP_PARALLEL, async (t) => {
          row[t.name] = await tcpPair(src, t, count, timeoutMs);
        });
      }
    });
  };
  await probeAll(pairs);
  const again = pairs.filter(({ src, dst }) => (matrix[src.name]?.[dst.name] ?? 0) < count);
  await probeAll(again);

  return pingReport(
    hosts.map((h) => h.name),
    matrix,
    count,
    again.length,
  );
}

/** iperf3 from a to b: a one-shot server bound to b's address, a client bound to a's; receiver goodput. */
export async function iperfBetween(
  a: Endpoint,
  b: Endpoint,
  opts: { seconds?: number; port?: number } = {},
): Promise<IperfResult> {
  if (!findExecutable('iperf3')) {
    throw new Error(
      `iperf ${a.name} → ${b.name}: iperf3 is not installed (not on PATH); install the iperf3 package ` +
        '(Debian/Ubuntu: apt-get install iperf3; macOS: brew install iperf3)',
    );
  }
  return iperf3Between(
    {
      from: a.name,
      to: b.name,
      label: `${a.name} (${a.ip}) → ${b.name} (${b.ip})`,
      toIp: b.ip,
      fromIp: a.ip,
    },
    opts,
  );
}
