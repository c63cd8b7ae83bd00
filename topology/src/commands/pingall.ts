// mlfo-topo pingall [--count N]: pings every host pair of a run; prints the loss report and the
// pairs that lost packets; exit 1 when any did.

import type { Command } from './command.ts';
import { attachChosen, numberOption, parse, RUN_USAGE } from './run-target.ts';

export const command: Command = {
  summary: 'ping every host pair; loss report',
  usage: `mlfo-topo pingall [--count N] [--timeout-ms MS] [--json]\n${RUN_USAGE}`,

  async run(args, io) {
    const { values } = parse('pingall', args, {
      count: { type: 'string' },
      'timeout-ms': { type: 'string' },
      json: { type: 'boolean' },
    });
    const count = numberOption(values, 'count', { min: 1, max: 100, integer: true }) ?? 1;
    const timeoutMs = numberOption(values, 'timeout-ms', { min: 100, max: 60_000, integer: true }) ?? 1000;
    const net = await attachChosen(values);
    const t0 = Date.now();
    const r = await net.pingAll({ count, timeoutMs });
    if (values.json === true) {
      io.stdout(`${JSON.stringify(r, null, 2)}\n`);
    } else {
      const pairs = r.hosts.length * (r.hosts.length - 1);
      io.stdout(
        `${r.hosts.length} hosts, ${pairs} pairs, ${r.sent} sent, ${r.received} received: ${r.lossPercent} % lost` +
          ` (${((Date.now() - t0) / 1000).toFixed(1)} s${r.retried > 0 ? `, ${r.retried} pairs asked twice` : ''})\n`,
      );
      for (const l of r.lossy.slice(0, 50)) io.stdout(`  ${l.from} → ${l.to}: ${l.received}/${l.sent}\n`);
      if (r.lossy.length > 50) io.stdout(`  … and ${r.lossy.length - 50} more pairs\n`);
    }
    return r.lossy.length === 0 ? 0 : 1;
  },
};
