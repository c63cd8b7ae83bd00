// Interface counters of the network namespace this process runs in, read from /proc/net/dev
// (which is per network namespace). Empty where the file does not exist (not Linux).
// registerNetDevCounters exports them as Prometheus counters, read at scrape time.

import { readFileSync } from 'node:fs';
import { Counter, type Registry } from 'prom-client';

export interface NetDevCounters {
  device: string;
  rxBytes: number;
  rxPackets: number;
  txBytes: number;
  txPackets: number;
}

export function parseNetDev(text: string): NetDevCounters[] {
  const out: NetDevCounters[] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const device = line.slice(0, colon).trim();
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.push({ device, rxBytes: f[0]!, rxPackets: f[1]!, txBytes: f[8]!, txPackets: f[9]! });
  }
  return out;
}

export function readNetDev(path = '/proc/net/dev'): NetDevCounters[] {
  try {
    return parseNetDev(readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
}

/**
 * Registers `<prefix>_{receive,transmit}_{bytes,packets}_total{device}` (default prefix
 * `node_network`), each read from `read` (default /proc/net/dev) when scraped.
 */
export function registerNetDevCounters(
  registers: Registry[],
  opts: { prefix?: string; read?: () => NetDevCounters[] } = {},
): void {
  const prefix = opts.prefix ?? 'node_network';
  const read = opts.read ?? (() => readNetDev());
  const fields = [
    ['receive_bytes', 'Bytes received', (d: NetDevCounters) => d.rxBytes],
    ['transmit_bytes', 'Bytes sent', (d: NetDevCounters) => d.txBytes],
    ['receive_packets', 'Packets received', (d: NetDevCounters) => d.rxPackets],
    ['transmit_packets', 'Packets sent', (d: NetDevCounters) => d.txPackets],
  ] as const;
  for (const [suffix, what, pick] of fields) {
    new Counter({
      name: `${prefix}_${suffix}_total`,
      help: `${what} per interface (/proc/net/dev)`,
      labelNames: ['device'],
      registers,
      collect() {
        this.reset();
        for (const d of read()) this.inc({ device: d.device }, pick(d));
      },
    });
  }
}
