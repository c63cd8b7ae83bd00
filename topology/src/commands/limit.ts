// mlfo-topo limit HOST --cpus X --memory-mb M: changes a host's CPU/memory limits while it runs,
// as `docker update --cpus` did for the seed's containers ("none" removes a limit).

import { type Command, UsageError } from './command.ts';
import { attachChosen, numberOption, parse, RUN_USAGE } from './run-target.ts';

export const command: Command = {
  summary: "change a host's CPU / memory limit while it runs",
  usage: `mlfo-topo limit HOST [--cpus X|none] [--memory-mb M|none]\n${RUN_USAGE}`,

  async run(args, io) {
    const { values, positionals } = parse('limit', args, {
      cpus: { type: 'string' },
      'memory-mb': { type: 'string' },
    });
    if (positionals.length !== 1) throw new UsageError('limit: expected one HOST');
    const cpus = numberOption(values, 'cpus', { min: 0.01, max: 1024, allowNone: true });
    const memoryMb = numberOption(values, 'memory-mb', { min: 4, allowNone: true, integer: true });
    if (cpus === undefined && memoryMb === undefined)
      throw new UsageError('limit: give --cpus and/or --memory-mb');
    const host = positionals[0] as string;
    const net = await attachChosen(values);
    net.limit(host, {
      ...(cpus !== undefined ? { cpus } : {}),
      ...(memoryMb !== undefined ? { memoryMb } : {}),
    });
    const h = net.status().hosts.find((x) => x.name === host);
    io.stdout(
      `${host}: cpus ${h?.limits.cpus ?? 'unlimited'}, memory ${h?.limits.memoryMb !== undefined ? `${h.limits.memoryMb} MiB` : 'unlimited'}\n`,
    );
    return 0;
  },
};
