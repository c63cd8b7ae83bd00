// Memory of a docker run's containers as the engine's cgroups (v1, as here) count it: the peak
// (memory.max_usage_in_bytes, page cache included) and the resident set now (total_rss of
// memory.stat), and the peak resident set (VmHWM) of a process inside whose command line matches.

import { existsSync, readFileSync } from 'node:fs';

const MB = 1024 * 1024;

export interface ContainerMemory {
  /** peak of the container's cgroup, page cache included */
  peakMb: number;
  /** resident set of its processes now */
  rssMb: number;
  /** peak resident set (VmHWM) of the process inside matching `match`, when asked and found */
  processPeakMb?: number;
}

export function containerMemory(id: string, match?: RegExp): ContainerMemory {
  const dir = `/sys/fs/cgroup/memory/docker/${id}`;
  if (!existsSync(dir))
    throw new Error(`${dir}: no memory cgroup (cgroup v1 with the cgroupfs driver expected)`);
  const peakMb = Number(readFileSync(`${dir}/memory.max_usage_in_bytes`, 'utf8')) / MB;
  const stat = readFileSync(`${dir}/memory.stat`, 'utf8');
  const rssMb = Number(/^total_rss (\d+)$/m.exec(stat)?.[1] ?? Number.NaN) / MB;
  const out: ContainerMemory = { peakMb: +peakMb.toFixed(1), rssMb: +rssMb.toFixed(1) };
  if (match !== undefined) {
    for (const pid of readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean)) {
      try {
        if (!match.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '))) continue;
        const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (hwm) out.processPeakMb = +(Number(hwm[1]) / 1024).toFixed(1);
      } catch {
        // ended while reading
      }
    }
  }
  return out;
}

/** Whether container memory can be read here (the engine's cgroup v1 memory hierarchy). */
export const containerMemoryReadable = (): boolean => existsSync('/sys/fs/cgroup/memory/docker');
