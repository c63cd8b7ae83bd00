// Teardown of a netns run, shared by `stop()` and `cleanRun`: processes first (SIGTERM, then
// SIGKILL; a detached process with its whole session, the port forwarder of the run), then
// root-side veths (the root access leg among them), bridges, namespaces, cgroups, and finally the
// sysctls the run changed. It works from the run state and, for crash recovery, also from the
// run's tag (names that carry its run id) — never from anything else, so other runs on the
// same machine are untouched. It keeps going past failures and reports every one.

import { removeRunTempDir } from '../run-id.ts';
import { type Dirent, existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isForwarderScript } from '../forwarder.ts';
import type { TeardownReport } from '../network.ts';
import { listPids, livingProcesses, procStat } from '../proc.ts';
import { batch, run } from '../sh.ts';
import { detectCgroups, runCgroupDirs, removeCgroupTree } from './cgroups.ts';
import { aliasPrefix, namespacePrefix, rootNamePattern, runTag } from './plan.ts';
import type { ProcessRecord, RunState } from './state.ts';
import { restoreSysctls } from './sysctls.ts';

const NETNS_DIR = '/run/netns';

export function listNamespaces(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

interface RootLink {
  ifname: string;
  ifalias?: string;
  linkinfo?: { info_kind?: string };
}

export async function rootLinks(): Promise<RootLink[]> {
  const { stdout } = await run(['ip', '-j', '-d', 'link', 'show']);
  return JSON.parse(stdout) as RootLink[];
}

/** Re-exported under its former name for modules that import it from here. */
export { procStat as procInfo } from '../proc.ts';

/**
 * The living members of the session or process group a detached process leads (it included),
 * started no earlier than it: a pid reused after the group emptied is never taken for ours.
 */
export function sessionPids(rec: Pick<ProcessRecord, 'pid' | 'startTime'>): number[] {
  const since = Number(rec.startTime);
  return livingProcesses()
    .filter(
      (st) =>
        st.pid !== process.pid &&
        (st.pgid === rec.pid || st.session === rec.pid) &&
        Number(st.startTime) >= since,
    )
    .map((st) => st.pid);
}

/** Port forwarders started for the run (found by their argv: the forwarder script and `--run <runId>`). */
export function forwarderPids(runId: string): number[] {
  const out: number[] = [];
  for (const p of listPids()) {
    if (p === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = argv.indexOf('--run');
    if (i >= 0 && argv[i + 1] === runId && argv.some(isForwarderScript) && procStat(p)?.alive) out.push(p);
  }
  return out;
}

/** Pids whose network namespace is one of `namespaces` (by the nsfs inode of /run/netns/<ns>). */
export function pidsInNamespaces(namespaces: readonly string[]): number[] {
  const inodes = new Set<string>();
  for (const ns of namespaces) {
    try {
      inodes.add(`net:[${statSync(join(NETNS_DIR, ns)).ino}]`);
    } catch {
      /* not there */
    }
  }
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    try {
      if (inodes.has(readlinkSync(`/proc/${pid}/ns/net`))) pids.push(pid);
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

function cgroupTreePids(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string): void => {
    let entries: Dirent[];
    try {
      // the dirent type, not a stat per entry: a host's cgroup holds dozens of control files
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l) out.push(Number(l));
    } catch {
      /* gone */
    }
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(dir);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until none of `pids` is alive or `ms` have passed; polls every few ms at first (a process
 * usually ends within one), then every 50 ms. Returns whether they all ended.
 */
async function ended(pids: readonly number[], ms: number): Promise<boolean> {
  const alive = (p: number) => procStat(p)?.alive === true;
  const deadline = performance.now() + ms;
  for (let wait = 1; pids.some(alive); wait = Math.min(50, wait * 2)) {
    if (performance.now() >= deadline) return false;
    await sleep(wait);
  }
  return true;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL; returns the pids still alive afterwards. */
export async function killPids(pids: readonly number[], graceMs = 3000): Promise<number[]> {
  const signal = (sig: NodeJS.Signals) => {
    for (const p of pids) {
      try {
        process.kill(p, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  if (await ended(pids, graceMs)) return [];
  signal('SIGKILL');
  await ended(pids, 2000);
  return pids.filter((p) => procStat(p)?.alive === true);
}

export interface TeardownInput {
  runId: string;
  state?: RunState;
  /** also remove what carries the run's tag but is not in the state (crash recovery) */
  byTag: boolean;
}

export async function teardown({ runId, state, byTag }: TeardownInput): Promise<TeardownReport> {
  const removed = { processes: 0, veths: 0, bridges: 0, namespaces: 0, cgroups: 0, sysctls: 0 };
  const report: RunTeardown['report'] = { runId, removed, failures: [], warnings: [] };
  const fail = (what: string, err: unknown) =>
    report.failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  const existingNs = listNamespaces();
  const layout = detectCgroups();
  const t: RunTeardown = {
    runId,
    state,
    byTag,
    report,
    fail,
    namespaces: [
      ...new Set([
        ...(state?.namespaces ?? []).filter((n) => existingNs.includes(n)),
        ...(byTag ? existingNs.filter((n) => n.startsWith(namespacePrefix(runId))) : []),
      ]),
    ],
    cgroupRoots: [
      ...new Set([
        ...(state?.cgroups ?? []).filter((d) => d.endsWith(`/mlfo-${runId}`)),
        ...(byTag && layout ? runCgroupDirs(layout, runId) : []),
      ]),
    ],
  };
  await killRunProcesses(t);
  await removeRootLinks(t);
  await removeNamespaces(t);
  await removeCgroups(t);
  // 6. sysctls, unless another run's bridges still need the value we set
  const changes = state?.sysctls ?? [];
  if (changes.length > 0) {
    const others = await otherRunsWithBridges(aliasPrefix(runId), fail);
    report.removed.sysctls += restoreSysctls(changes, others, report.warnings, fail);
  }
  removeRunTempDir(runId, report.failures);
  return report;
}

/** One teardown under way: what it removes, and the report it fills. */
interface RunTeardown {
  runId: string;
  state: RunState | undefined;
  byTag: boolean;
  report: TeardownReport & {
    removed: Record<'processes' | 'veths' | 'bridges' | 'namespaces' | 'cgroups' | 'sysctls', number>;
  };
  fail: (what: string, err: unknown) => void;
  namespaces: string[];
  cgroupRoots: string[];
}

/**
 * 1. processes: recorded ones (same start time; detached ones with their session), the run's
 *    port forwarder, and whatever lives in the run's cgroups or namespaces
 */
async function killRunProcesses({ runId, state, byTag, report, fail, namespaces, cgroupRoots }: RunTeardown) {
  try {
    const pids = new Set<number>();
    for (const p of state?.processes ?? []) {
      const info = procStat(p.pid);
      if (info?.alive && info.startTime === p.startTime) pids.add(p.pid);
      if (p.detached) for (const q of sessionPids(p)) pids.add(q);
    }
    if (byTag) for (const p of forwarderPids(runId)) pids.add(p);
    for (const d of cgroupRoots) for (const p of cgroupTreePids(d)) pids.add(p);
    for (const p of pidsInNamespaces(namespaces)) pids.add(p);
    pids.delete(process.pid);
    const left = await killPids([...pids]);
    report.removed.processes = pids.size - left.length;
    if (left.length > 0) fail('processes', new Error(`still alive after SIGKILL: ${left.join(', ')}`));
  } catch (err) {
    fail('processes', err);
  }
}

/** 2–3. root-namespace veth ends, then bridges */
async function removeRootLinks({ runId, state, byTag, report, fail }: RunTeardown) {
  const tag = state?.tag ?? runTag(runId);
  let links: RootLink[] = [];
  try {
    links = await rootLinks();
  } catch (err) {
    fail('listing links', err);
  }
  const pattern = rootNamePattern(tag);
  const alias = aliasPrefix(runId);
  const ours = (l: RootLink) =>
    byTag && pattern.test(l.ifname) && (l.ifalias === undefined || l.ifalias.startsWith(alias));
  const existing = new Set(links.map((l) => l.ifname));
  const bridgeNames = new Set(Object.values(state?.bridges ?? {}));
  const veths = [
    ...new Set([
      ...(state?.veths ?? []).filter((v) => existing.has(v)),
      ...links.filter((l) => ours(l) && l.linkinfo?.info_kind === 'veth').map((l) => l.ifname),
    ]),
  ];
  const bridges = [
    ...new Set([
      ...[...bridgeNames].filter((b) => existing.has(b)),
      ...links.filter((l) => ours(l) && l.linkinfo?.info_kind === 'bridge').map((l) => l.ifname),
    ]),
  ];
  for (const [kind, names] of [
    ['veths', veths],
    ['bridges', bridges],
  ] as const) {
    if (names.length === 0) continue;
    try {
      await batch(
        ['ip'],
        names.map((n) => `link del dev ${n}`),
        true,
      );
      const after = new Set((await rootLinks()).map((l) => l.ifname));
      const left = names.filter((n) => after.has(n));
      report.removed[kind] = names.length - left.length;
      if (left.length > 0) fail(kind, new Error(`could not delete ${left.join(', ')}`));
    } catch (err) {
      fail(kind, err);
    }
  }
}

/** 4. namespaces (their interfaces and any host-to-host veths go with them) */
async function removeNamespaces({ report, fail, namespaces }: RunTeardown) {
  if (namespaces.length > 0) {
    try {
      await batch(
        ['ip'],
        namespaces.map((n) => `netns del ${n}`),
        true,
      );
      const after = new Set(listNamespaces());
      const left = namespaces.filter((n) => after.has(n));
      report.removed.namespaces = namespaces.length - left.length;
      if (left.length > 0) fail('namespaces', new Error(`could not delete ${left.join(', ')}`));
    } catch (err) {
      fail('namespaces', err);
    }
  }
}

/** 5. cgroups */
async function removeCgroups({ report, fail, cgroupRoots }: RunTeardown) {
  for (const dir of cgroupRoots) {
    if (!existsSync(dir)) continue;
    try {
      await removeCgroupTree(dir);
      report.removed.cgroups += 1;
    } catch (err) {
      fail('cgroups', err);
    }
  }
}

/** Run ids of other runs that still have bridges (by the bridges' `mlfo:<runId>:` alias). */
async function otherRunsWithBridges(alias: string, fail: RunTeardown['fail']): Promise<string[]> {
  try {
    return [
      ...new Set(
        (await rootLinks())
          .filter(
            (l) =>
              l.linkinfo?.info_kind === 'bridge' &&
              l.ifalias?.startsWith('mlfo:') &&
              !l.ifalias.startsWith(alias),
          )
          .map((l) => l.ifalias?.split(':')[1] ?? '?'),
      ),
    ];
  } catch (err) {
    fail('listing links', err);
    return [];
  }
}
