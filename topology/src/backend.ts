// Picks and drives an emulation backend: `startEmulation` (spec → running network on netns or
// local), `attachEmulation` (a run started by another process, from its run directory),
// `cleanEmulation` (leftovers of a crashed run), and the run directory bookkeeping the CLI and the
// demo share (`runs/<run-id>/state.json`; which runs are up). The backends are loaded lazily, so
// the local backend never loads netns code and vice versa.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BACKENDS, type BackendName, type EmulatedNetwork, type TeardownReport } from './network.ts';
import { RUN_ID_PATTERN } from './run-id.ts';
import type { TopologySpec } from '../../common/topology-spec/topology-spec.ts';

export interface EmulationOptions {
  /** default: netns on Linux as root, local otherwise */
  backend?: BackendName;
  runId: string;
  runDir: string;
  /** netns: run links that ask for delay/jitter/loss without them when sch_netem is missing */
  linksWithoutDelay?: boolean;
  /** netns: give this machine a leg into the topology (default true) */
  rootAccess?: boolean;
  /** forward hosts' published ports to 127.0.0.1 (default true) */
  publish?: boolean;
  onProgress?: (step: string) => void;
  log?: (message: string) => void;
}

/** The backend used when none is asked for, and why. */
export function defaultBackend(): { backend: BackendName; reason: string } {
  if (process.platform !== 'linux') return { backend: 'local', reason: `${process.platform} is not Linux` };
  if (process.getuid?.() !== 0) return { backend: 'local', reason: 'not running as root' };
  return { backend: 'netns', reason: 'Linux, running as root' };
}

export function parseBackend(text: string, where: string): BackendName {
  if ((BACKENDS as readonly string[]).includes(text)) return text as BackendName;
  throw new Error(`${where}: got ${JSON.stringify(text)}; allowed: ${BACKENDS.join(', ')}`);
}

export async function startEmulation(spec: TopologySpec, opts: EmulationOptions): Promise<EmulatedNetwork> {
  const backend = opts.backend ?? defaultBackend().backend;
  if (backend === 'netns') {
    const { startNetwork } = await import('./netns/index.ts');
    return startNetwork(spec, {
      runId: opts.runId,
      runDir: opts.runDir,
      ...(opts.linksWithoutDelay !== undefined ? { linksWithoutDelay: opts.linksWithoutDelay } : {}),
      ...(opts.rootAccess !== undefined ? { rootAccess: opts.rootAccess } : {}),
      ...(opts.publish !== undefined ? { publish: opts.publish } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
  }
  const { startLocalNetwork } = await import('./local/index.ts');
  return startLocalNetwork(spec, {
    runId: opts.runId,
    runDir: opts.runDir,
    ...(opts.publish !== undefined ? { publish: opts.publish } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
}

export interface RunSummary {
  runId: string;
  runDir: string;
  backend: BackendName;
  phase: string;
  topology: string;
  startedAt: string;
  ownerPid: number;
}

/** What `<runDir>/state.json` says of the run, whichever backend wrote it; undefined when absent. */
export function readRunSummary(runDir: string): RunSummary | undefined {
  const file = join(runDir, 'state.json');
  if (!existsSync(file)) return undefined;
  let s: Record<string, unknown>;
  try {
    s = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: not a run state (${(err as Error).message})`);
  }
  const backend = s.backend === undefined ? 'netns' : parseBackend(String(s.backend), `${file}: backend`);
  return {
    runId: String(s.runId),
    runDir,
    backend,
    phase: String(s.phase),
    topology: String(s.topology ?? ''),
    startedAt: String(s.startedAt ?? ''),
    ownerPid: Number(s.ownerPid ?? 0),
  };
}

export function runsDirectory(dir?: string): string {
  return resolve(dir ?? process.env.MLFO_RUNS_DIR ?? 'runs');
}

/** Every run under the runs directory that has a state file, newest first. */
export function listRuns(runsDir: string): RunSummary[] {
  if (!existsSync(runsDir)) return [];
  const out: RunSummary[] = [];
  for (const name of readdirSync(runsDir)) {
    try {
      const s = readRunSummary(join(runsDir, name));
      if (s) out.push(s);
    } catch {
      // a directory that is not a run (or a torn state file) is not listed
    }
  }
  return out.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/**
 * The run a command acts on: `runId` when given, else the only run that is up. Errors say which
 * runs exist and how to choose.
 */
export function selectRun(runsDir: string, runId?: string): RunSummary {
  if (runId !== undefined) {
    if (!RUN_ID_PATTERN.test(runId)) {
      throw new Error(`--run: got ${JSON.stringify(runId)}; allowed: [A-Za-z0-9_-], 1–48 characters`);
    }
    const s = readRunSummary(join(runsDir, runId));
    if (!s) throw new Error(`no run ${runId} in ${runsDir} (no ${join(runsDir, runId, 'state.json')})`);
    return s;
  }
  const up = listRuns(runsDir).filter((r) => r.phase === 'up');
  const [only] = up;
  if (only && up.length === 1) return only;
  if (up.length === 0) throw new Error(`no run is up in ${runsDir}; start one with mlfo-topo up <spec.yaml>`);
  throw new Error(
    `${up.length} runs are up in ${runsDir} (${up.map((r) => r.runId).join(', ')}); choose one with --run ID`,
  );
}

export async function attachEmulation(runDir: string): Promise<EmulatedNetwork> {
  const s = readRunSummary(runDir);
  if (!s) throw new Error(`${join(runDir, 'state.json')} not found: not a run directory`);
  if (s.backend === 'netns') {
    const { attachNetwork } = await import('./netns/index.ts');
    return attachNetwork(runDir);
  }
  const { attachLocalNetwork } = await import('./local/index.ts');
  return attachLocalNetwork(runDir);
}

/** Removes what a crashed run left: `target` is a run directory or a run id under `runsDir`. */
export async function cleanEmulation(target: string, runsDir: string): Promise<TeardownReport> {
  const runDir = existsSync(join(target, 'state.json')) ? target : join(runsDir, target);
  const s = readRunSummary(runDir);
  if (s?.backend === 'local') {
    const { cleanLocalRun } = await import('./local/index.ts');
    return cleanLocalRun(runDir, runsDir);
  }
  // netns also cleans by the run's tag when no state file survived
  const { cleanRun } = await import('./netns/index.ts');
  return cleanRun(s ? runDir : target);
}
