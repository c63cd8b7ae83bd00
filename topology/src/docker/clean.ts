// Crash recovery of a docker run: its containers by label (`mlfo.run=<runId>`), then what the
// netns teardown finds by the run's state and tag (namespace names, veths, bridges, processes,
// sysctls). `target` is the run directory or the run id.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TeardownError, type TeardownReport } from '../network.ts';
import { readState, writeState } from '../netns/state.ts';
import { RUN_ID_PATTERN } from '../run-id.ts';
import { dockerTeardown } from './teardown.ts';

export async function cleanDockerRun(target: string, runsDir: string): Promise<TeardownReport> {
  const dir = existsSync(join(target, 'state.json'))
    ? target
    : RUN_ID_PATTERN.test(target) && existsSync(join(runsDir, target, 'state.json'))
      ? join(runsDir, target)
      : undefined;
  const state = dir && statSync(dir).isDirectory() ? readState(dir, 'docker') : undefined;
  const runId = state?.runId ?? target;
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new Error(
      `clean: ${JSON.stringify(target)} is neither a run directory nor a run id ([A-Za-z0-9_-], ≤ 48)`,
    );
  }
  const report = await dockerTeardown(runId, state);
  if (dir && state) {
    state.phase = 'stopped';
    writeState(dir, state);
  }
  if (report.failures.length > 0) throw new TeardownError(report);
  return report;
}
