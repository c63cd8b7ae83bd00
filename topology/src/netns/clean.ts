// Crash recovery: removes what a netns run left behind, from its state.json and from its tag
// (namespaces `mlfo-<runId>.*`, root interfaces named with the run's tag whose alias names the
// run — the root access leg among them —, cgroups `mlfo-<runId>`, processes inside those, the
// run's port forwarder). Nothing without the run's id is touched.

import { existsSync, statSync } from 'node:fs';
import { TeardownError, type TeardownReport } from '../network.ts';
import { RUN_ID_PATTERN } from '../run-id.ts';
import { readState, statePath, writeState } from './state.ts';
import { teardown } from './teardown.ts';

/**
 * `target` is a run directory holding state.json, or a bare run id. Resolves with the report;
 * throws TeardownError (carrying the report) when something could not be removed.
 */
export async function cleanRun(target: string): Promise<TeardownReport> {
  let runDir: string | undefined;
  let runId: string;
  if (existsSync(target) && statSync(target).isDirectory()) {
    runDir = target;
    const state = readState(target);
    if (!state)
      throw new Error(`${statePath(target)} not found: pass the run id instead (cleanRun('<runId>'))`);
    runId = state.runId;
  } else if (RUN_ID_PATTERN.test(target)) {
    runId = target;
  } else {
    throw new Error(
      `cleanRun: ${JSON.stringify(target)} is neither a run directory nor a run id ([A-Za-z0-9_-], ≤ 48)`,
    );
  }
  const state = runDir ? readState(runDir) : undefined;
  const report = await teardown({ runId, ...(state ? { state } : {}), byTag: true });
  if (runDir && state) {
    state.phase = 'stopped';
    writeState(runDir, state);
  }
  if (report.failures.length > 0) throw new TeardownError(report);
  return report;
}
