// Teardown of a local run, shared by `stop()` and `cleanLocalRun`: the hosts' processes (their
// whole process groups, start time checked), then the port forwarder, then the run's 127.K block
// claim. It works from the run state only, keeps going past failures and reports every one.

import { removeRunTempDir } from '../run-id.ts';
import type { TeardownReport } from '../network.ts';
import { releaseBlock } from './address-claims.ts';
import { endProcessGroups } from './processes.ts';
import { FORWARDER_HOST, type LocalRunState, updateLocalState } from './state.ts';

export function emptyReport(runId: string): TeardownReport {
  return { runId, removed: { processes: 0, forwarders: 0, addressBlocks: 0 }, failures: [], warnings: [] };
}

/**
 * Ends what `state` records and adds the outcome to `report`. Returns false when processes of the
 * run are still alive: the block claim is then kept and the run must not be marked stopped.
 */
export async function teardownLocal(state: LocalRunState, report: TeardownReport): Promise<boolean> {
  const fail = (what: string, err: unknown) =>
    report.failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  let left = 0;
  for (const [kind, records] of [
    ['processes', state.processes.filter((p) => p.host !== FORWARDER_HOST)],
    ['forwarders', state.processes.filter((p) => p.host === FORWARDER_HOST)],
  ] as const) {
    try {
      const r = await endProcessGroups(records);
      report.removed[kind] = (report.removed[kind] ?? 0) + r.ended;
      left += r.left.length;
      if (r.left.length > 0) fail(kind, new Error(`still alive after SIGKILL: pids ${r.left.join(', ')}`));
    } catch (err) {
      fail(kind, err);
      left += 1;
    }
  }
  const a = state.addresses;
  if (left > 0) {
    if (a)
      report.warnings.push(`kept the claim of 127.${a.block} (${a.claim}): processes of the run still run`);
    return false;
  }
  if (!a) return true;
  try {
    if (releaseBlock(a.claim, state.runId)) report.removed['addressBlocks'] = 1;
  } catch (err) {
    fail(`releasing 127.${a.block} (${a.claim})`, err);
  }
  return true;
}

/**
 * Stops the run in `runDir`, shared by `stop()` and `cleanLocalRun`: marks it stopping (from then
 * on, exec in any process attached to the run refuses to start anything), ends what it records,
 * and marks it stopped when nothing of it is left. Failures go to `report`. Returns the state the
 * teardown worked from and, when the run was marked stopped, the stopped state.
 */
export async function stopLocalRun(
  runDir: string,
  state: LocalRunState,
  report: TeardownReport,
): Promise<{ state: LocalRunState; stopped?: LocalRunState }> {
  let current = state;
  try {
    current = updateLocalState(runDir, state, (s) => {
      if (s.phase !== 'stopped') s.phase = 'stopping';
    }).state;
  } catch (err) {
    report.failures.push(`marking the run stopping: ${(err as Error).message}`);
  }
  const ok = await teardownLocal(current, report);
  removeRunTempDir(current.runId, report.failures);
  if (!ok) return { state: current };
  try {
    const stopped = updateLocalState(runDir, current, (s) => {
      s.phase = 'stopped';
    }).state;
    return { state: current, stopped };
  } catch (err) {
    report.failures.push(`marking the run stopped: ${(err as Error).message}`);
    return { state: current };
  }
}
