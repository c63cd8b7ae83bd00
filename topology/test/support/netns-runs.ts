// Test support: run ids and run directories for netns tests, and the after() hook that removes
// whatever those runs left (cleanRun by run id, then the directories), even when a test failed.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { cleanRun } from '../../src/netns/clean.ts';

/**
 * Returns `newRun`, which gives a fresh run id (`<prefix><pid><random>`) and run directory; after
 * the file's tests (unless `skip`), every run handed out is cleaned and its directory removed.
 */
export function netnsRuns(prefix: string, skip: string | undefined): () => { runId: string; runDir: string } {
  const runIds: string[] = [];
  const dirs: string[] = [];
  after(async () => {
    if (skip) return;
    for (const id of runIds)
      await cleanRun(id).catch((err: unknown) => console.error(`cleanup of ${id}: ${err}`));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const runId = `${prefix}${process.pid}${Math.random().toString(36).slice(2, 7)}`;
    const runDir = mkdtempSync(join(tmpdir(), `mlfo-netns-${runId}-`));
    runIds.push(runId);
    dirs.push(runDir);
    return { runId, runDir };
  };
}
