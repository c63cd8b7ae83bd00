// The run state of a netns network: every namespace, bridge, veth, cgroup, process and sysctl
// change of one run, written to `<runDir>/state.json` before the resource is created. Teardown
// (`stop()`) and crash recovery (`cleanRun`) both work from it, so a run killed half-way leaves
// a record of what it may have made.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LinkShape } from '../spec/topology-spec.ts';

export interface ProcessRecord {
  host: string;
  pid: number;
  /** /proc/<pid>/stat start time, so a recycled pid is never mistaken for ours */
  startTime: string;
  argv: string[];
  logFile?: string;
}

export interface SysctlChange {
  path: string;
  previous: string;
  value: string;
}

export interface RunState {
  version: 1;
  runId: string;
  tag: string;
  topology: string;
  phase: 'starting' | 'up' | 'stopping' | 'stopped' | 'failed';
  /** pid of the process that runs the network */
  ownerPid: number;
  startedAt: string;
  /** namespaces, in creation order */
  namespaces: string[];
  /** switch name → bridge name */
  bridges: Record<string, string>;
  /** root-namespace veth ends (deleting one end removes its peer) */
  veths: string[];
  /** cgroup directories, parents first */
  cgroups: string[];
  processes: ProcessRecord[];
  sysctls: SysctlChange[];
  /** links whose delay/jitter/loss was not applied (no sch_netem, run with linksWithoutDelay) */
  linksWithoutDelay: { a: string; b: string; ab: LinkShape; ba: LinkShape }[];
  warnings: string[];
}

export function statePath(runDir: string): string {
  return join(runDir, 'state.json');
}

export function writeState(runDir: string, state: RunState): void {
  mkdirSync(runDir, { recursive: true });
  const file = statePath(runDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

export function readState(runDir: string): RunState | undefined {
  let text: string;
  try {
    text = readFileSync(statePath(runDir), 'utf8');
  } catch {
    return undefined;
  }
  const state = JSON.parse(text) as RunState;
  if (state.version !== 1 || typeof state.runId !== 'string') {
    throw new Error(`${statePath(runDir)} is not a netns run state (version ${String(state.version)})`);
  }
  return state;
}
