// mlfo-topo iperf A B [--seconds S]: TCP throughput from host A to host B with iperf3.

import { type Command, UsageError } from './command.ts';
import { attachChosen, numberOption, parse, RUN_USAGE } from './run-target.ts';

export const command: Command = {
  summary: 'measure TCP throughput between two hosts (iperf3)',
  usage: `mlfo-topo iperf A B [--seconds S] [--port P] [--json]\n${RUN_USAGE}`,

  async run(args, io) {
    const { values, positionals } = parse('iperf', args, {
      seconds: { type: 'string' },
      port: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 2) throw new UsageError('iperf: expected the two hosts A B');
    const seconds = numberOption(values, 'seconds', { min: 1, max: 3600, integer: true }) ?? 3;
    const port = numberOption(values, 'port', { min: 1, max: 65535, integer: true }) ?? 5301;
    const net = await attachChosen(values);
    const [a, b] = positionals as [string, string];
    const r = await net.iperf(a, b, { seconds, port });
    if (values.json === true) io.stdout(`${JSON.stringify(r)}\n`);
    else
      io.stdout(
        `${a} → ${b}: ${r.mbps} Mbit/s received (${r.sentMbps} sent) over ${r.seconds} s` +
          `${r.retransmits !== undefined ? `, ${r.retransmits} retransmits` : ''}\n`,
      );
    return 0;
  },
};
