// The run state of a netns network: every namespace, bridge, veth, cgroup, process and sysctl
// change of one run, written to `<runDir>/state.json` before the resource is created, plus what
// changed while it ran (link shapes, host limits). Teardown (`stop()`) and crash recovery
// (`cleanRun`) both work from it, so a run killed half-way leaves a record of what it may have
// made; `attachNetwork` rebuilds a running network from it. Writers that may run in several
// processes at once go through `updateState` (read, change, write back).

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PublishedPort } from '../network.ts';
import type { LinkShape } from '../../../common/topology-spec/topology-spec.ts';

/** The `host` of process records that run in the root namespace (the port forwarder). */
export const ROOT_HOST = '(root)';

export interface ProcessRecord {
  /** a host of the spec, or ROOT_HOST */
  host: string;
  pid: number;
  /** /proc/<pid>/stat start time, so a recycled pid is never mistaken for ours */
  startTime: string;
  argv: string[];
  logFile?: string;
  /** leads its own session and process group (teardown ends the whole group) */
  detached?: boolean;
}

export interface SysctlChange {
  path: string;
  previous: string;
  value: string;
}

/** The veth pair that connects the root namespace to one switch of the topology. */
export interface RootLegRecord {
  /** root end, carries `address` */
  ifname: string;
  /** the end enslaved to the switch's bridge */
  peer: string;
  /** with prefix, e.g. 10.0.255.254/16 */
  address: string;
  switch: string;
  bridge: string;
}

/** A container of a docker run (hosts are containers whose namespaces the netns code links). */
export interface ContainerRecord {
  host: string;
  /** mlfo-<runId>.<host>, as the host's namespace */
  name: string;
  /** set once created */
  id?: string;
  image: string;
}

/** The backends whose run state this is: netns, and docker (netns links on containers' namespaces). */
export type NamespaceBackend = 'netns' | 'docker';

export interface RunState {
  version: 1;
  /** absent in states written before backends were told apart: netns */
  backend?: NamespaceBackend;
  runId: string;
  tag: string;
  topology: string;
  phase: 'starting' | 'up' | 'stopping' | 'stopped' | 'failed';
  /** pid of the process that started the network */
  ownerPid: number;
  startedAt: string;
  /** whether delay/jitter/loss are applied (sch_netem present) */
  netem?: boolean;
  /** namespaces, in creation order */
  namespaces: string[];
  /** switch name → bridge name */
  bridges: Record<string, string>;
  /** root-namespace veth ends (deleting one end removes its peer) */
  veths: string[];
  /** the root access leg; null when the run has none */
  rootAccess?: RootLegRecord | null;
  /** cgroup directories, parents first */
  cgroups: string[];
  processes: ProcessRecord[];
  sysctls: SysctlChange[];
  /** links whose delay/jitter/loss was not applied (no sch_netem, run with linksWithoutDelay) */
  linksWithoutDelay: { a: string; b: string; ab: LinkShape; ba: LinkShape }[];
  /** ports forwarded from 127.0.0.1 to hosts */
  published?: PublishedPort[];
  /** link index (spec order) → current shape, for links changed by setLink */
  linkShapes?: Record<string, { ab: LinkShape; ba: LinkShape }>;
  /** host → current limits, for hosts changed by limit() */
  limits?: Record<string, { cpus?: number; memoryMb?: number }>;
  /** docker: the run's containers, recorded before each is created */
  containers?: ContainerRecord[];
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

export function readState(runDir: string, backend: NamespaceBackend = 'netns'): RunState | undefined {
  let text: string;
  try {
    text = readFileSync(statePath(runDir), 'utf8');
  } catch {
    return undefined;
  }
  const state = JSON.parse(text) as RunState;
  if (state.version !== 1 || typeof state.runId !== 'string') {
    throw new Error(`${statePath(runDir)} is not a ${backend} run state (version ${String(state.version)})`);
  }
  if ((state.backend ?? 'netns') !== backend) {
    throw new Error(
      `${statePath(runDir)} belongs to the ${String(state.backend ?? 'netns')} backend, not ${backend}: use that backend's tools`,
    );
  }
  return state;
}

/**
 * Reads the current state (`fallback` when the file is gone), applies `change` and writes it
 * back, so changes made by another process attached to the same run are kept.
 */
export function updateState(runDir: string, fallback: RunState, change: (state: RunState) => void): RunState {
  const state = readState(runDir, fallback.backend ?? 'netns') ?? fallback;
  change(state);
  writeState(runDir, state);
  return state;
}
