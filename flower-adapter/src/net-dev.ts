// Interface counters of the network namespace this process runs in, read from /proc/net/dev
// (which is per network namespace). Empty where the file does not exist (not Linux).

import { readFileSync } from 'node:fs';

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
