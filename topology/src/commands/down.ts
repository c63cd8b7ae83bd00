// mlfo-topo down [--run ID]: stops a run's node programs and removes its network, in reverse order
// of creation, past individual failures, reporting all of them.

import { TeardownError } from '../network.ts';
import type { Command } from './command.ts';
import { attachChosen, parse, RUN_USAGE } from './run-target.ts';

export const command: Command = {
  summary: 'tear a run down: processes, namespaces, interfaces, bridges, cgroups',
  usage: `mlfo-topo down [--run ID]\n${RUN_USAGE}`,

  async run(args, io) {
    const { values } = parse('down', args, {});
    const net = await attachChosen(values);
    const t0 = Date.now();
    try {
      const report = await net.stop();
      const removed = Object.entries(report.removed)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ');
      io.stdout(
        `run ${net.runId} is down in ${((Date.now() - t0) / 1000).toFixed(1)} s (removed ${removed || 'nothing'})\n`,
      );
      for (const w of report.warnings) io.stderr(`warning: ${w}\n`);
      return 0;
    } catch (err) {
      if (!(err instanceof TeardownError)) throw err;
      io.stderr(`${err.message}\nmlfo-topo clean --run ${net.runId} tries again\n`);
      return 1;
    }
  },
};
