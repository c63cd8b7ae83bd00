// Processes of this machine as /proc shows them (Linux), for both backends: a process's state,
// process group, session and start time, which is what tells a recorded process from a later one
// that got the same pid.

import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  /** one-letter state (R, S, Z, …) */
  state: string;
  /** false for a zombie or a dead process */
  alive: boolean;
  pgid: number;
  session: number;
  /** start time after boot, in clock ticks (field 22) */
  startTime: string;
}

/** Fields of /proc/<pid>/stat; undefined when there is no such process (or no /proc). */
export function procStat(pid: number): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses; fields after it are plain.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = f[0] ?? '';
  return {
    pid,
    state,
    alive: state !== 'Z' && state !== 'X',
    pgid: Number(f[2]),
    session: Number(f[3]),
    startTime: f[19] ?? '',
  };
}

/** Every pid in /proc (processes may end while the caller looks at them). */
export function listPids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** The processes alive now, this one included. */
export function livingProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const pid of listPids()) {
    const st = procStat(pid);
    if (st?.alive) out.push(st);
  }
  return out;
}

/** Whether a process with this pid exists (possibly another user's), without /proc. */
export function pidExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false; // 0 and negatives would address groups
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
