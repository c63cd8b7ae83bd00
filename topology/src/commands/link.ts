// mlfo-topo link A B [--bandwidth-mbps X] [--delay-ms X] [--jitter-ms X] [--loss-percent X]
// [--direction ab|ba|both]: changes the shaping of the link(s) between A and B while the run is up
// ("none" removes a figure). Delay, jitter and loss need sch_netem.

import type { LinkChange, ShapeChange } from '../network.ts';
import { type Command, UsageError } from './command.ts';
import { attachChosen, numberOption, parse, RUN_USAGE } from './run-target.ts';

export const command: Command = {
  summary: 'change bandwidth / delay / jitter / loss of a link while it runs',
  usage: `mlfo-topo link A B [--bandwidth-mbps X|none] [--delay-ms X|none] [--jitter-ms X|none] [--loss-percent X|none] [--direction ab|ba|both]
  ab is A→B, ba is B→A (default both)\n${RUN_USAGE}`,

  async run(args, io) {
    const { values, positionals } = parse('link', args, {
      'bandwidth-mbps': { type: 'string' },
      'delay-ms': { type: 'string' },
      'jitter-ms': { type: 'string' },
      'loss-percent': { type: 'string' },
      direction: { type: 'string' },
    });
    if (positionals.length !== 2) throw new UsageError('link: expected the two ends A B');
    const shape: ShapeChange = {};
    const bw = numberOption(values, 'bandwidth-mbps', { min: 0.001, max: 100_000, allowNone: true });
    const delay = numberOption(values, 'delay-ms', { min: 0, max: 60_000, allowNone: true });
    const jitter = numberOption(values, 'jitter-ms', { min: 0, max: 60_000, allowNone: true });
    const loss = numberOption(values, 'loss-percent', { min: 0, max: 100, allowNone: true });
    if (bw !== undefined) shape.bandwidthMbps = bw;
    if (delay !== undefined) shape.delayMs = delay;
    if (jitter !== undefined) shape.jitterMs = jitter;
    if (loss !== undefined) shape.lossPercent = loss;
    if (Object.keys(shape).length === 0) throw new UsageError('link: give at least one figure to change');
    const direction = String(values.direction ?? 'both');
    let change: LinkChange;
    if (direction === 'both') change = shape;
    else if (direction === 'ab') change = { ab: shape };
    else if (direction === 'ba') change = { ba: shape };
    else throw new UsageError(`--direction: got ${JSON.stringify(direction)}; allowed: ab, ba, both`);
    const [a, b] = positionals as [string, string];
    const net = await attachChosen(values);
    await net.setLink(a, b, change);
    for (const l of net.status().links.filter((x) => (x.a === a && x.b === b) || (x.a === b && x.b === a))) {
      io.stdout(`${l.a} → ${l.b}: ${describe(l.ab)}; ${l.b} → ${l.a}: ${describe(l.ba)}\n`);
    }
    return 0;
  },
};

export function describe(s: {
  bandwidthMbps?: number;
  delayMs?: number;
  jitterMs?: number;
  lossPercent?: number;
}): string {
  const parts: string[] = [];
  parts.push(s.bandwidthMbps !== undefined ? `${s.bandwidthMbps} Mbit/s` : 'unlimited');
  if (s.delayMs !== undefined) parts.push(`${s.delayMs} ms`);
  if (s.jitterMs !== undefined) parts.push(`±${s.jitterMs} ms`);
  if (s.lossPercent !== undefined) parts.push(`${s.lossPercent} % loss`);
  return parts.join(' ');
}
