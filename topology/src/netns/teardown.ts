// Teardown of a netns run, shared by `stop()` and `cleanRun`: processes first (SIGTERM, then
// SIGKILL; a detached process with its whole session, the port forwarder of the run), then
// root-side veths (the root access leg among them), bridges and namespaces through one `ip`
// process while this one removes the cgroups, and finally the sysctls the run changed. It works
// from the run state and, for crash recovery, also from the run's tag (names that carry its run
// id) — never from anything else, so other runs on the same machine are untouched. It keeps going
// past failures and reports every one.

import { removeRunTempDir } from '../run-id.ts';
import { type Dirent, existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { randomInt } from 'node:crypto';
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
  /** interface group: a number, 'default' (0) or a name from /etc/iproute2/group */
  group?: string;
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
  // links and namespaces are the kernel's work (done through `ip`), cgroups this process's: overlapped
  const linksLeft = removeLinksAndNamespaces(t);
  await removeCgroups(t);
  const listed = await linksLeft;
  // 6. sysctls, unless another run's bridges still need the value we set
  const changes = state?.sysctls ?? [];
  if (changes.length > 0) {
    const others = await otherRunsWithBridges(aliasPrefix(runId), fail, listed);
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

/**
 * An interface group no interface of this machine is in: the run's root links join it so one
 * `link del group` removes them all. The kernel then unregisters them as one batch, sharing its
 * RCU waits: about 1 ms a veth instead of some 20 ms each one by one (a bridge still takes ~20 ms).
 */
function unusedGroup(links: readonly RootLink[]): number {
  const used = new Set<number>();
  for (const l of links) {
    let g = l.group === undefined || l.group === 'default' ? '0' : l.group;
    // a group named in /etc/iproute2/group is shown by its name; sysfs has its number
    if (!/^\d+$/.test(g)) {
      try {
        g = readFileSync(`/sys/class/net/${l.ifname}/netdev_group`, 'utf8').trim();
      } catch {
        continue; // gone since the listing
      }
    }
    used.add(Number(g));
  }
  for (;;) {
    const g = randomInt(1 << 24, 2 ** 31 - 1);
    if (!used.has(g)) return g;
  }
}

/**
 * 2–4. root-namespace veth ends and bridges (the root access leg among them), then namespaces (their
 * interfaces go with them), all by one `ip` process: the links join a group of their own that is
 * then deleted (a veth's peer in a host namespace dies with it). What is still there afterwards is
 * deleted one by one. Resolves with the root links left, for the sysctl check.
 */
async function removeLinksAndNamespaces({
  runId,
  state,
  byTag,
  report,
  fail,
  namespaces,
}: RunTeardown): Promise<RootLink[] | undefined> {
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
  const names = [...veths, ...bridges];
  const lines: string[] = [];
  if (names.length > 0) {
    const group = unusedGroup(links);
    lines.push(...names.map((n) => `link set dev ${n} group ${group}`), `link del group ${group}`);
  }
  lines.push(...namespaces.map((n) => `netns del ${n}`));
  let after: RootLink[] | undefined;
  try {
    await batch(['ip'], lines, true);
    if (names.length > 0) {
      after = await rootLinks();
      const left = new Set(after.map((l) => l.ifname));
      const again = names.filter((n) => left.has(n));
      if (again.length > 0) {
        await batch(
          ['ip'],
          again.map((n) => `link del dev ${n}`),
          true,
        );
        after = await rootLinks();
      }
    }
  } catch (err) {
    fail('links', err);
  }
  if (after !== undefined) {
    const left = new Set(after.map((l) => l.ifname));
    for (const [kind, list] of [
      ['veths', veths],
      ['bridges', bridges],
    ] as const) {
      const still = list.filter((n) => left.has(n));
      report.removed[kind] = list.length - still.length;
      if (still.length > 0) fail(kind, new Error(`could not delete ${still.join(', ')}`));
    }
  }
  if (namespaces.length > 0) {
    const present = new Set(listNamespaces());
    const still = namespaces.filter((n) => present.has(n));
    report.removed.namespaces = namespaces.length - still.length;
    if (still.length > 0) fail('namespaces', new Error(`could not delete ${still.join(', ')}`));
  }
  return after;
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
async function otherRunsWithBridges(
  alias: string,
  fail: RunTeardown['fail'],
  listed?: RootLink[],
): Promise<string[]> {
  try {
    return [
      ...new Set(
        (listed ?? (await rootLinks()))
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
