// A lock shared by processes, taken synchronously: a directory created with mkdir (atomic), holding
// the owner's pid. The local backend takes it around read-modify-write of a run's state.json and
// of the machine-wide address claims, which are short; a holder that died (its pid gone) or that
// has held the lock far longer than any such update is broken.

import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidExists } from '../proc.ts';

const POLL_MS = 5;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Whether the lock at `dir` may be broken: its holder is gone, or it is older than `staleMs`. */
function isStale(dir: string, staleMs: number): boolean {
  let ageMs: number;
  try {
    ageMs = Date.now() - statSync(dir).mtimeMs;
  } catch {
    return false; // released meanwhile
  }
  if (ageMs > staleMs) return true;
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, 'owner'), 'utf8'));
  } catch {
    return false; // just created, owner not written yet
  }
  return !pidExists(pid);
}

/**
 * Runs `fn` while holding the lock directory `dir` (created beside the data it guards). Waits up
 * to `timeoutMs` for another holder; throws naming the lock and its holder when it cannot.
 */
export function withFileLock<T>(
  dir: string,
  fn: () => T,
  opts: { timeoutMs?: number; staleMs?: number } = {},
): T {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const staleMs = opts.staleMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (isStale(dir, staleMs)) {
      // Renaming first means only one of several waiters removes it.
      const aside = `${dir}.stale-${process.pid}-${Date.now()}`;
      try {
        renameSync(dir, aside);
        rmSync(aside, { recursive: true, force: true });
      } catch {
        /* another waiter broke it first */
      }
      continue;
    }
    if (Date.now() > deadline) {
      let holder = 'unknown';
      try {
        holder = readFileSync(join(dir, 'owner'), 'utf8');
      } catch {
        /* gone meanwhile */
      }
      throw new Error(
        `could not take the lock ${dir} within ${timeoutMs} ms (held by pid ${holder}); ` +
          `if no such process is running, remove the directory`,
      );
    }
    Atomics.wait(pause, 0, 0, POLL_MS);
  }
  try {
    writeFileSync(join(dir, 'owner'), String(process.pid));
    return fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
