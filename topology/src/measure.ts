// Measurements both backends make the same way: iperf3 between two hosts (a one-shot server bound
// to the receiver's address, a client with JSON output; receiver-side goodput), and the PingReport
// built from the matrix of packets received between every ordered pair of hosts.

import type { IperfResult, PingReport, RunResult } from './network.ts';
import { run, spawnUntil } from './sh.ts';

export interface IperfPair {
  from: string;
  to: string;
  /** the pair as errors name it */
  label: string;
  /** the receiver's address (no prefix) */
  toIp: string;
  /** the sender's address to bind the client to; default: the kernel's choice */
  fromIp?: string;
  /** argv that runs a command in the receiver (netns: `ip netns exec <ns>`); default none */
  inReceiver?: readonly string[];
  /** runs a command in the sender; default: on this machine */
  runInSender?: (argv: string[], opts: { timeoutMs: number }) => Promise<RunResult>;
}

/** iperf3 from `from` to `to`; throws naming the pair when iperf3 gives no result. */
export async function iperf3Between(
  pair: IperfPair,
  opts: { seconds?: number; port?: number } = {},
): Promise<IperfResult> {
  const seconds = opts.seconds ?? 3;
  const port = String(opts.port ?? 5201);
  const server = await spawnUntil(
    [...(pair.inReceiver ?? []), 'iperf3', '-s', '-1', '--forceflush', '-B', pair.toIp, '-p', port],
    /Server listening/,
    10_000,
  );
  try {
    const bind = pair.fromIp !== undefined ? ['-B', pair.fromIp] : [];
    const client = ['iperf3', '-c', pair.toIp, ...bind, '-p', port, '-t', String(seconds), '-J'];
    const { stdout } = await (pair.runInSender ?? run)(client, { timeoutMs: (seconds + 20) * 1000 });
    const j = JSON.parse(stdout) as {
      end?: {
        sum_received?: { bits_per_second: number };
        sum_sent?: { bits_per_second: number; retransmits?: number };
      };
      error?: string;
    };
    if (!j.end?.sum_received || !j.end.sum_sent) {
      throw new Error(`iperf3 ${pair.label}: ${j.error ?? 'no result'}`);
    }
    const r: IperfResult = {
      from: pair.from,
      to: pair.to,
      seconds,
      mbps: +(j.end.sum_received.bits_per_second / 1e6).toFixed(2),
      sentMbps: +(j.end.sum_sent.bits_per_second / 1e6).toFixed(2),
    };
    if (j.end.sum_sent.retransmits !== undefined) r.retransmits = j.end.sum_sent.retransmits;
    return r;
  } finally {
    server.child.kill('SIGKILL');
  }
}

/**
 * The report of `count` pings between every ordered pair of `hosts`, from `matrix` (from → to →
 * packets received; a pair missing there received none); `retried` pairs were pinged again.
 */
export function pingReport(
  hosts: readonly string[],
  matrix: Record<string, Record<string, number>>,
  count: number,
  retried: number,
): PingReport {
  const lossy: PingReport['lossy'] = [];
  let received = 0;
  for (const from of hosts) {
    for (const to of hosts) {
      if (from === to) continue;
      const got = matrix[from]?.[to] ?? 0;
      received += got;
      if (got < count) lossy.push({ from, to, sent: count, received: got });
    }
  }
  const sent = hosts.length * (hosts.length - 1) * count;
  return {
    hosts: [...hosts],
    sent,
    received,
    lossPercent: sent === 0 ? 0 : +((100 * (sent - received)) / sent).toFixed(2),
    retried,
    lossy,
    matrix,
  };
}
