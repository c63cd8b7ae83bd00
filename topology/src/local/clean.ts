// Crash recovery for the local backend: ends what a run's state.json records (processes and their
// process groups, start time checked; the port forwarder) and releases its 127.K block. Nothing
// that the state does not name is touched.

import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type TeardownReport, TeardownError } from '../network.ts';
import { RUN_ID_PATTERN } from '../run-id.ts';
import { localStatePath, readLocalState } from './state.ts';
import { emptyReport, stopLocalRun } from './teardown.ts';

/**
 * `target` is a run directory holding state.json, or a bare run id looked up as
 * `<runsDir>/<id>/state.json` (runsDir default ./runs). Resolves with the report; throws
 * TeardownError (carrying the report) when something could not be ended.
 */
export async function cleanLocalRun(target: string, runsDir?: string): Promise<TeardownReport> {
  let runDir: string;
  if (existsSync(target) && statSync(target).isDirectory()) {
    runDir = target;
  } else if (RUN_ID_PATTERN.test(target)) {
    runDir = join(resolve(runsDir ?? 'runs'), target);
  } else {
    throw new Error(
      `cleanLocalRun: ${JSON.stringify(target)} is neither a run directory nor a run id ([A-Za-z0-9_-], 1–48 characters)`,
    );
  }
  const state = readLocalState(runDir);
  if (!state) {
    throw new Error(
      `cleanLocalRun: no local run at ${runDir} (${localStatePath(runDir)} not found); ` +
        'pass the run directory, or the run id with the runs directory it lives in',
    );
  }
  const report = emptyReport(state.runId);
  await stopLocalRun(runDir, state, report);
  if (report.failures.length > 0) throw new TeardownError(report);
  return report;
}
