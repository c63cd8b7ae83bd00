// Run ids: what every backend, the run directory bookkeeping and the CLI accept as the name of a
// run (it tags every resource of the run, so it stays short and free of separators).

import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,48}$/;

/** <topology>-<time>-<pid>: two `up`s started in the same second get different ids. */
export function defaultRunId(topology: string): string {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const name = topology.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 24) || 'run';
  return `${name}-${stamp}-${process.pid}`;
}

/**
 * The run's private directory under the temp dir (used for the Redis socket when the run
 * directory's path is too long for a unix socket); every teardown of the run removes it.
 */
export function runTempDir(runId: string): string {
  return join(tmpdir(), `mlfo-${runId}`);
}

/** Removes runTempDir(runId) if it exists; a failure is reported, not thrown. */
export function removeRunTempDir(runId: string, failures: string[]): void {
  const dir = runTempDir(runId);
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    failures.push(`${dir}: ${(err as Error).message}`);
  }
}
