// The run state of a local network in `<runDir>/state.json`: phase, owner, the 127.K address map,
// every process started (with its start time and process group, so a recycled pid is never
// ended), published ports and warnings. Written atomically (temporary file, then rename); every
// change after the first write is a read-modify-write under a lock beside the file, so two
// processes attached to the same run never lose each other's updates.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PublishedPort } from '../network.ts';
import { withFileLock } from './file-lock.ts';

/** The `host` of process records that run on this machine for the run (port forwarders). */
export const FORWARDER_HOST = '(forwarder)';

export interface LocalProcessRecord {
  /** a host of the spec, or FORWARDER_HOST */
  host: string;
  pid: number;
  /** the process group it leads (its own session); stop() ends the whole group */
  pgid: number;
  /** /proc/<pid>/stat start time in clock ticks; '' where /proc is absent */
  startTime: string;
  argv: string[];
  logFile: string;
  detached: boolean;
}

export interface LocalAddressRecord {
  /** K of 127.K.x.y, claimed machine-wide for this run */
  block: number;
  /** the claim file that reserves the block */
  claim: string;
  /** host → address used, with the spec's prefix length */
  hosts: Record<string, string>;
  /** host → its address in the spec as written */
  specHosts: Record<string, string>;
  /** hosts that collided with another after mapping and got a 127.K.250.x, 127.K.251.x, … address */
  fallback: string[];
}

export interface LocalRunState {
  version: 1;
  backend: 'local';
  runId: string;
  topology: string;
  phase: 'starting' | 'up' | 'stopping' | 'stopped' | 'failed';
  /** pid of the process that started the network */
  ownerPid: number;
  startedAt: string;
  /** absent until the block is claimed */
  addresses?: LocalAddressRecord;
  processes: LocalProcessRecord[];
  published: PublishedPort[];
  warnings: string[];
}

export function localStatePath(runDir: string): string {
  return join(runDir, 'state.json');
}

let tmpCounter = 0;

export function writeLocalState(runDir: string, state: LocalRunState): void {
  mkdirSync(runDir, { recursive: true });
  const file = localStatePath(runDir);
  const tmp = `${file}.${process.pid}.${++tmpCounter}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

/** The state of the run in `runDir`; undefined when there is none; throws when it is another backend's. */
export function readLocalState(runDir: string): LocalRunState | undefined {
  const file = localStatePath(runDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let state: Partial<LocalRunState>;
  try {
    state = JSON.parse(text) as Partial<LocalRunState>;
  } catch (err) {
    throw new Error(`${file} is not a run state: ${(err as Error).message}`);
  }
  if (state.backend !== 'local') {
    throw new Error(
      `${file} belongs to the ${String(state.backend ?? 'netns')} backend, not local: use that backend's tools`,
    );
  }
  if (state.version !== 1 || typeof state.runId !== 'string' || !Array.isArray(state.processes)) {
    throw new Error(`${file} is not a local run state of version 1 (version ${String(state.version)})`);
  }
  return state as LocalRunState;
}

/**
 * Under the run's lock: reads the current state (`fallback` when the file is gone), applies
 * `change` and writes it back. Returns what `change` returned.
 */
export function updateLocalState<T>(
  runDir: string,
  fallback: LocalRunState,
  change: (state: LocalRunState) => T,
): { state: LocalRunState; result: T } {
  mkdirSync(runDir, { recursive: true });
  return withFileLock(join(runDir, 'state.lock'), () => {
    const state = readLocalState(runDir) ?? fallback;
    const result = change(state);
    writeLocalState(runDir, state);
    return { state, result };
  });
}
