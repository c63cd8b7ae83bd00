// CPU and memory limits per host through cgroups, v1 (cpu.cfs_quota_us, memory.limit_in_bytes)
// or v2 (cpu.max, memory.max), whichever this machine mounts. Each host gets a cgroup
// `mlfo-<runId>/<host>` under every controller; processes started in the host are written to
// its cgroup.procs before they run. Only directories of the run are ever created or removed.

import {
  type Dirent,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Limits } from '../network.ts';

const ROOT = '/sys/fs/cgroup';
const CFS_PERIOD_US = 100_000;

export interface CgroupLayout {
  version: 1 | 2;
  /** controller mount points (v1: cpu, cpuacct, memory when present; v2: the unified root) */
  mounts: string[];
  cpu?: string;
  memory?: string;
}

let layout: CgroupLayout | null | undefined;

export function detectCgroups(): CgroupLayout | null {
  if (layout !== undefined) return layout;
  if (existsSync(join(ROOT, 'cgroup.controllers'))) {
    const ctrl = readFileSync(join(ROOT, 'cgroup.controllers'), 'utf8').split(/\s+/);
    layout = { version: 2, mounts: [ROOT] };
    if (ctrl.includes('cpu')) layout.cpu = ROOT;
    if (ctrl.includes('memory')) layout.memory = ROOT;
    return layout;
  }
  const mounts: string[] = [];
  const seen = new Set<string>();
  const found: CgroupLayout = { version: 1, mounts };
  for (const c of ['cpu', 'cpuacct', 'memory'] as const) {
    const dir = join(ROOT, c);
    if (!existsSync(dir)) continue;
    const real = realpathSync(dir);
    if (c === 'cpu' && existsSync(join(dir, 'cpu.cfs_quota_us'))) found.cpu = real;
    if (c === 'memory' && existsSync(join(dir, 'memory.limit_in_bytes'))) found.memory = real;
    if (!seen.has(real)) {
      seen.add(real);
      mounts.push(real);
    }
  }
  layout = mounts.length > 0 ? found : null;
  return layout;
}

export function runCgroupDirs(l: CgroupLayout, runId: string): string[] {
  return l.mounts.map((m) => join(m, `mlfo-${runId}`));
}

export function hostCgroupDirs(l: CgroupLayout, runId: string, host: string): string[] {
  return l.mounts.map((m) => join(m, `mlfo-${runId}`, host));
}

/** The files a process's pid is written to so it joins the host's cgroups. */
export function procsFiles(l: CgroupLayout, runId: string, host: string): string[] {
  return hostCgroupDirs(l, runId, host).map((d) => join(d, 'cgroup.procs'));
}

function write(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch (err) {
    throw new Error(`cannot write ${JSON.stringify(value)} to ${file}: ${(err as Error).message}`);
  }
}

export function createRunCgroup(l: CgroupLayout, runId: string): void {
  for (const dir of runCgroupDirs(l, runId)) mkdirSync(dir, { recursive: true });
  if (l.version === 2) {
    // v2: controllers must be enabled down the tree before a child can use them.
    const want = [l.cpu ? '+cpu' : '', l.memory ? '+memory' : ''].filter(Boolean).join(' ');
    if (want) {
      write(join(ROOT, 'cgroup.subtree_control'), want);
      write(join(ROOT, `mlfo-${runId}`, 'cgroup.subtree_control'), want);
    }
  }
}

export function createHostCgroup(l: CgroupLayout, runId: string, host: string): void {
  for (const dir of hostCgroupDirs(l, runId, host)) mkdirSync(dir, { recursive: true });
}

export function applyLimits(l: CgroupLayout, runId: string, host: string, limits: Limits): void {
  if (limits.cpus !== undefined) {
    if (!l.cpu) throw new Error(`host ${host}: no cpu cgroup controller on this machine, cannot limit cpus`);
    if (limits.cpus !== null && !(limits.cpus > 0))
      throw new Error(`host ${host}: cpus must be > 0 (got ${limits.cpus})`);
    const dir = join(l.cpu, `mlfo-${runId}`, host);
    const quota = limits.cpus === null ? null : Math.max(1000, Math.round(limits.cpus * CFS_PERIOD_US));
    if (l.version === 1) {
      write(join(dir, 'cpu.cfs_period_us'), String(CFS_PERIOD_US));
      write(join(dir, 'cpu.cfs_quota_us'), quota === null ? '-1' : String(quota));
    } else {
      write(join(dir, 'cpu.max'), `${quota === null ? 'max' : quota} ${CFS_PERIOD_US}`);
    }
  }
  if (limits.memoryMb !== undefined) {
    if (!l.memory)
      throw new Error(`host ${host}: no memory cgroup controller on this machine, cannot limit memory`);
    if (limits.memoryMb !== null && !(limits.memoryMb > 0)) {
      throw new Error(`host ${host}: memoryMb must be > 0 (got ${limits.memoryMb})`);
    }
    const dir = join(l.memory, `mlfo-${runId}`, host);
    const bytes = limits.memoryMb === null ? null : String(Math.round(limits.memoryMb * 1024 * 1024));
    if (l.version === 1) write(join(dir, 'memory.limit_in_bytes'), bytes ?? '-1');
    else write(join(dir, 'memory.max'), bytes ?? 'max');
  }
}

/** Pids currently in a cgroup directory (empty when it does not exist). */
export function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU time used by the host's cgroup in seconds (cpuacct.usage on v1, cpu.stat usage_usec on v2). */
export function cpuUsageSeconds(l: CgroupLayout, runId: string, host: string): number | undefined {
  for (const m of l.mounts) {
    const dir = join(m, `mlfo-${runId}`, host);
    try {
      if (l.version === 1 && existsSync(join(dir, 'cpuacct.usage'))) {
        return Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8')) / 1e9;
      }
      if (l.version === 2) {
        const m2 = /usage_usec (\d+)/.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'));
        if (m2) return Number(m2[1]) / 1e6;
      }
    } catch {
      /* try the next mount */
    }
  }
  return undefined;
}

/** Removes a cgroup directory tree bottom-up; retries briefly while exiting processes leave it. */
export async function removeCgroupTree(dir: string): Promise<void> {
  // Another teardown of the same run (a second stop(), a clean) may remove the tree meanwhile:
  // what is already gone counts as removed.
  const gone = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';
  let entries: Dirent[];
  try {
    // the dirent type, not a stat per entry: a cgroup directory holds dozens of control files
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if (gone(err)) return;
    throw err;
  }
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(join(dir, e.name));
  // EBUSY while the last processes leave: retry for up to a second, every few ms at first
  for (let waited = 0, wait = 1; ; waited += wait, wait = Math.min(50, wait * 2)) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || waited >= 1000)
        throw new Error(`cannot remove cgroup ${dir}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
