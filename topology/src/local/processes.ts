// Processes of a local run. Each one leads its own session and process group, so ending it ends
// the children it forked too. Only what provably belongs to a record is signalled: the leader
// when its /proc start time matches the record, and members of its group that started no
// earlier than it (a pid or group id is never reused while the group exists; a leader whose
// start time differs is a recycled pid and its group is left alone).

import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { livingProcesses, pidExists, procStat } from '../proc.ts';
import type { LocalProcessRecord } from './state.ts';

const HAS_PROC = existsSync('/proc/self/stat');

/** Start time of a process just started by us ('' where /proc is absent). */
export function startTimeOf(pid: number): string {
  return procStat(pid)?.startTime ?? '';
}

/** Whether the recorded process itself still runs (same start time). */
export function recordAlive(rec: LocalProcessRecord): boolean {
  if (!HAS_PROC) return pidExists(rec.pid);
  const st = procStat(rec.pid);
  return st?.alive === true && st.startTime === rec.startTime;
}

/**
 * What to signal for these records now: pids (Linux), or negative process group ids where
 * /proc is absent and start times cannot be checked (the leader must still exist).
 */
export function recordTargets(records: readonly LocalProcessRecord[]): number[] {
  // A record that does not lead its own group (a damaged state) is never signalled as a group.
  const leads = (r: LocalProcessRecord) => r.pgid === r.pid && r.pid > 0;
  if (!HAS_PROC) return records.filter((r) => leads(r) && pidExists(r.pid)).map((r) => -r.pgid);
  const table = livingProcesses();
  const byPid = new Map(table.map((s) => [s.pid, s]));
  const out = new Set<number>();
  for (const r of records) {
    const leader = byPid.get(r.pid);
    if (leader && leader.startTime !== r.startTime) continue; // recycled pid
    if (leader && r.pid !== process.pid) out.add(r.pid);
    if (!leads(r)) continue;
    const since = Number(r.startTime);
    for (const s of table) {
      if (s.pgid === r.pgid && Number(s.startTime) >= since && s.pid !== process.pid) out.add(s.pid);
    }
  }
  return [...out];
}

function signal(targets: readonly number[], sig: NodeJS.Signals): void {
  for (const t of targets) {
    try {
      process.kill(t, sig);
    } catch {
      /* already gone */
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitGone(records: readonly LocalProcessRecord[], ms: number): Promise<number[]> {
  let left = recordTargets(records);
  for (let t = 0; t < ms && left.length > 0; t += 50) {
    await sleep(50);
    left = recordTargets(records);
  }
  return left;
}

/**
 * Ends the records' process groups: SIGTERM, up to `graceMs` to exit, then SIGKILL. Returns how
 * many processes were ended and the ones still alive.
 */
export async function endProcessGroups(
  records: readonly LocalProcessRecord[],
  graceMs = 5000,
): Promise<{ ended: number; left: number[] }> {
  const seen = new Set(recordTargets(records));
  if (seen.size === 0) return { ended: 0, left: [] };
  signal([...seen], 'SIGTERM');
  let left = await waitGone(records, graceMs);
  if (left.length > 0) {
    for (const p of left) seen.add(p);
    signal(left, 'SIGKILL');
    left = await waitGone(records, 2000);
  }
  return { ended: seen.size - left.length, left };
}

/** Synchronous SIGTERM to the records' groups (for the 'exit' hook, where nothing can be awaited). */
export function terminateNow(records: readonly LocalProcessRecord[]): void {
  signal(recordTargets(records), 'SIGTERM');
}

/** The path of an executable: `name` itself when it holds a '/', else the first match on PATH. */
export function findExecutable(name: string): string | undefined {
  const candidates =
    name.includes('/') || isAbsolute(name)
      ? [name]
      : (process.env.PATH ?? '')
          .split(delimiter)
          .filter((d) => d !== '')
          .map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* not here */
    }
  }
  return undefined;
}
