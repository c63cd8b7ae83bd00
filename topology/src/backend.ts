// Picks and drives an emulation backend: BACKENDS is the table name → backend (as SUBCOMMANDS in
// cli.ts is for commands); `startEmulation` (spec → running network), `attachEmulation` (a run
// started by another process, from its run directory), `cleanEmulation` (leftovers of a crashed
// run), and the run directory bookkeeping the CLI and the demo share (`runs/<run-id>/state.json`;
// which runs are up). To add a backend, write `<name>/backend.ts` exporting `backend:
// BackendModule` (network.ts) and add a row to BACKENDS. A backend's code is loaded only when it
// is used, so the local backend never loads netns code and vice versa.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BackendModule, BackendStartOptions, EmulatedNetwork, TeardownReport } from './network.ts';
import { engineProblem } from './docker/engine.ts';
import { RUN_ID_PATTERN } from './run-id.ts';
import type { TopologySpec } from '../../common/topology-spec/topology-spec.ts';

export interface Backend {
  /** one line for --help */
  summary: string;
  needsRoot: boolean;
  /**
   * What a host sees of this machine: its loopback (127.0.0.1 in a host is this machine's) and
   * its files ('all': one filesystem; 'run directory': only the run directory, at the same path).
   */
  hostsSee: { loopback: boolean; files: 'all' | 'run directory' };
  /** links are shaped with tc on this machine's kernel, so delay/jitter/loss need its sch_netem */
  tcShaping: boolean;
  /** when it is the default ("on Linux as root"); a backend without it runs only when asked for */
  defaultWhen?: string;
  /** whether it can run on this machine, and why (or why not) */
  availability(): { available: boolean; reason: string };
  load(): Promise<{ backend: BackendModule }>;
}

/** The backends by name. With none asked for, the first available one that has `defaultWhen`. */
const TABLE = {
  netns: {
    summary: 'namespaces, bridges, veth, tc shaping, cgroup limits (Linux, root)',
    needsRoot: true,
    hostsSee: { loopback: false, files: 'all' },
    tcShaping: true,
    defaultWhen: 'on Linux as root',
    availability: () => {
      if (process.platform !== 'linux')
        return { available: false, reason: `${process.platform} is not Linux` };
      if (process.getuid?.() !== 0) return { available: false, reason: 'not running as root' };
      return { available: true, reason: 'Linux, running as root' };
    },
    load: () => import('./netns/backend.ts'),
  },
  docker: {
    summary:
      'every host a container (--network none), links, shaping as netns; limits by Docker (root, dockerd)',
    needsRoot: true,
    hostsSee: { loopback: false, files: 'run directory' },
    tcShaping: true,
    availability: () => {
      if (process.platform !== 'linux')
        return { available: false, reason: `${process.platform} is not Linux` };
      if (process.getuid?.() !== 0) return { available: false, reason: 'not running as root' };
      const problem = engineProblem();
      return problem
        ? { available: false, reason: problem }
        : { available: true, reason: 'a Docker engine answers' };
    },
    load: () => import('./docker/backend.ts'),
  },
  local: {
    summary: 'processes on distinct 127.x addresses; no shaping, no limits (anywhere)',
    needsRoot: false,
    hostsSee: { loopback: true, files: 'all' },
    tcShaping: false,
    defaultWhen: 'otherwise',
    availability: () => ({ available: true, reason: 'runs anywhere' }),
    load: () => import('./local/backend.ts'),
  },
} satisfies Record<string, Backend>;

export type BackendName = keyof typeof TABLE;
export const BACKENDS: Record<BackendName, Backend> = TABLE;
export const BACKEND_NAMES = Object.keys(BACKENDS) as BackendName[];

/** A state file without a backend field, or a run with no state file left, is a netns run (cleaned by its tag). */
const STATELESS_BACKEND: BackendName = 'netns';

export interface EmulationOptions extends BackendStartOptions {
  /** default: the first available in BACKENDS (netns on Linux as root, local otherwise) */
  backend?: BackendName;
}

/** The backend used when none is asked for, and why. */
export function defaultBackend(): { backend: BackendName; reason: string } {
  const skipped: string[] = [];
  for (const name of BACKEND_NAMES.filter((n) => BACKENDS[n].defaultWhen !== undefined)) {
    const { available, reason } = BACKENDS[name].availability();
    if (available) return { backend: name, reason: skipped.length > 0 ? skipped.join('; ') : reason };
    skipped.push(reason);
  }
  throw new Error(`no emulation backend can run here: ${skipped.join('; ')}`);
}

/** "netns on Linux as root, local otherwise" */
export function defaultBackendText(): string {
  return BACKEND_NAMES.filter((n) => BACKENDS[n].defaultWhen !== undefined)
    .map((n) => `${n} ${BACKENDS[n].defaultWhen}`)
    .join(', ');
}

/** The --backend option of a command's usage, one line per backend under it. */
export function backendUsage(): string {
  const lines = [`  --backend ${BACKEND_NAMES.join('|').padEnd(14)}default: ${defaultBackendText()}`];
  for (const n of BACKEND_NAMES) lines.push(`      ${n.padEnd(20)}${BACKENDS[n].summary}`);
  return lines.join('\n');
}

export function parseBackend(text: string, where: string): BackendName {
  if (Object.hasOwn(BACKENDS, text)) return text as BackendName;
  throw new Error(`${where}: got ${JSON.stringify(text)}; allowed: ${BACKEND_NAMES.join(', ')}`);
}

async function load(name: string): Promise<BackendModule> {
  return (await BACKENDS[parseBackend(name, 'backend')].load()).backend;
}

export async function startEmulation(spec: TopologySpec, opts: EmulationOptions): Promise<EmulatedNetwork> {
  const { backend, ...startOpts } = opts;
  return (await load(backend ?? defaultBackend().backend)).start(spec, startOpts);
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
  const backend =
    s.backend === undefined ? STATELESS_BACKEND : parseBackend(String(s.backend), `${file}: backend`);
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
  return (await load(s.backend)).attach(runDir);
}

/** Removes what a crashed run left: `target` is a run directory or a run id under `runsDir`. */
export async function cleanEmulation(target: string, runsDir: string): Promise<TeardownReport> {
  const runDir = existsSync(join(target, 'state.json')) ? target : join(runsDir, target);
  const s = readRunSummary(runDir);
  return (await load(s?.backend ?? STATELESS_BACKEND)).clean(s ? runDir : target, runsDir);
}
