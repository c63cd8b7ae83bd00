// mlfo-topo clean --run ID: removes what a crashed run left behind (its namespaces, interfaces,
// bridges, cgroups and processes, found from its state file and its run tag) and nothing else.
// Without --run it lists the runs that are not stopped, so the choice stays the user's.

import { join } from 'node:path';
import { cleanEmulation, listRuns, readRunSummary, runsDirectory } from '../backend.ts';
import { TeardownError } from '../network.ts';
import { pidExists } from '../proc.ts';
import { RUN_ID_PATTERN } from '../run-id.ts';
import { type Command, UsageError } from './command.ts';
import { parse, RUN_USAGE } from './run-target.ts';

export const command: Command = {
  summary: "remove a crashed run's leftovers (only that run's)",
  usage: `mlfo-topo clean --run ID [--force]\n${RUN_USAGE}\n  --force           also when the run's owning process is still running\n  without --run: lists runs that are not stopped`,

  async run(args, io) {
    const { values } = parse('clean', args, { force: { type: 'boolean' } });
    const runsDir = runsDirectory(values['runs-dir'] as string | undefined);
    const runId = values.run as string | undefined;
    if (runId === undefined) {
      const open = listRuns(runsDir).filter((r) => r.phase !== 'stopped');
      if (open.length === 0) {
        io.stdout(`no run in ${runsDir} needs cleaning\n`);
        return 0;
      }
      io.stdout('runs not stopped (mlfo-topo clean --run ID removes one; a run that is up is taken down):\n');
      for (const r of open) {
        io.stdout(`  ${r.runId.padEnd(36)} ${r.backend.padEnd(6)} ${r.phase.padEnd(9)} ${r.startedAt}\n`);
      }
      return 2;
    }
    if (!RUN_ID_PATTERN.test(runId)) {
      throw new UsageError(`clean: --run ${JSON.stringify(runId)}; allowed: [A-Za-z0-9_-], 1–48 characters`);
    }
    // A run whose owner (a demo, a foreground up, a start in progress) is alive is not a crashed
    // run: cleaning it would pull the network from under that process.
    const run = readRunSummary(join(runsDir, runId));
    if (
      run &&
      ['starting', 'up', 'stopping'].includes(run.phase) &&
      run.ownerPid !== process.pid &&
      pidExists(run.ownerPid) &&
      values.force !== true
    ) {
      io.stderr(
        `mlfo-topo clean: run ${runId} is ${run.phase} and its owner (pid ${run.ownerPid}) is running; ` +
          `stop that process (Ctrl-C), use mlfo-topo down --run ${runId}, or --force\n`,
      );
      return 1;
    }
    try {
      const report = await cleanEmulation(runId, runsDir);
      const removed = Object.entries(report.removed)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ');
      io.stdout(`run ${runId}: removed ${removed || 'nothing (nothing was left)'}\n`);
      return 0;
    } catch (err) {
      if (!(err instanceof TeardownError)) throw err;
      io.stderr(`${err.message}\n`);
      return 1;
    }
  },
};
