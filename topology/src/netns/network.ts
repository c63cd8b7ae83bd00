// The netns backend (Mininet's way): a host is a network namespace, a switch a Linux bridge in
// the root namespace, a link a veth pair whose ends sit in the hosts' namespaces or on the
// bridges, shaped with tc on each end's egress. `startNetwork` turns a spec into a running
// network and returns it started; `stop()` undoes everything it made and nothing else. A veth
// from the root namespace to one switch (root-access.ts) lets this machine reach the hosts at
// their addresses, and a port forwarder (../forwarder.ts) publishes hosts' ports on 127.0.0.1.
// `attachNetwork` rebuilds a running network in another process from `<runDir>/topology.yaml`
// and state.json, where setLink/limit record their changes.
//
// Resources are recorded in `<runDir>/state.json` before they are created, all carry the run id
// (see plan.ts), and a failure or SIGINT/SIGTERM during start removes what was made before the
// error is rethrown. Creation is batched (`ip -batch -`, `tc -batch -`) to keep bring-up fast.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ForwardPair, startForwarder } from '../forwarder.ts';
import { iperf3Between, pingReport } from '../measure.ts';
import type {
  EmulatedNetwork,
  ExecOptions,
  HostProcess,
  IperfResult,
  Limits,
  LinkChange,
  NetworkStatus,
  PingReport,
  RunResult,
  ShapeChange,
} from '../network.ts';
import { TeardownError, type TeardownReport } from '../network.ts';
import { procStat } from '../proc.ts';
import { mapLimit } from '../../../common/map-limit.ts';
import { batch, run } from '../sh.ts';
import { readTopologyFile, toYaml } from '../../../common/topology-spec/spec-yaml.ts';
import type { LinkShape, TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import { assertValid } from '../../../common/topology-spec/validate.ts';
import { catchStartSignals, noteCleanupFailures } from '../start-signals.ts';
import {
  type CgroupLayout,
  applyLimits,
  createHostCgroup,
  createRunCgroup,
  detectCgroups,
  hostCgroupDirs,
  procsFiles,
  runCgroupDirs,
} from './cgroups.ts';
import {
  type LinkEnd,
  type NetworkPlan,
  type PlannedHost,
  type PlannedLink,
  linkLabel,
  namespacePrefix,
  needsNetem,
  planNetwork,
} from './plan.ts';
import { checkRoutes, planRootAccess, rootLegLines, rootRoutes } from './root-access.ts';
import { isShaped, netemArgs, probeNetem, shapeLines } from './shaping.ts';
import { ROOT_HOST, type RunState, readState, updateState, writeState } from './state.ts';
import { listNamespaces, teardown } from './teardown.ts';

export interface StartOptions {
  /** tags every resource of the run; [A-Za-z0-9_-], ≤ 48 characters */
  runId: string;
  /** where state.json and logs/ go */
  runDir: string;
  /** run links that ask for delay/jitter/loss without them when sch_netem is missing */
  linksWithoutDelay?: boolean;
  /** overrides the sch_netem probe (tests) */
  netemAvailable?: boolean;
  /** a veth from the root namespace into the topology, so this machine reaches the hosts (default true) */
  rootAccess?: boolean;
  /** forward hosts' `publish` ports to 127.0.0.1:<hostPort> (default true; needs the root access leg) */
  publish?: boolean;
  /** progress of long steps ("namespaces 60", …) */
  onProgress?: (step: string) => void;
  /** warnings and notices; console.warn by default */
  log?: (message: string) => void;
}

export class NetemMissingError extends Error {
  constructor(
    readonly links: string[],
    reason: string,
  ) {
    super(
      `this kernel has no sch_netem (netem qdisc: ${reason}), so delay/jitter/loss cannot be emulated; ` +
        `${links.length} link(s) ask for them: ${links.join(', ')}. Nothing was created. ` +
        'Load sch_netem, remove delayMs/jitterMs/lossPercent from those links, or run with ' +
        '--links-without-delay (linksWithoutDelay: true) to shape bandwidth only.',
    );
    this.name = 'NetemMissingError';
  }
}

export class InterruptedError extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`network start interrupted by ${signal}; everything created so far was removed`);
    this.name = 'InterruptedError';
  }
}

/** The netns backend's network; kept as an alias so existing imports go on working. */
export type StartedNetwork = EmulatedNetwork;

/** status() of the netns backend: the shared fields plus what only this backend has. */
export interface NetnsNetworkStatus extends NetworkStatus {
  sysctls: RunState['sysctls'];
  /** the veth from the root namespace into the topology; null when the run has none */
  rootAccess: { interface: string; address: string; switch: string } | null;
}

const BRIDGE_NF = [
  '/proc/sys/net/bridge/bridge-nf-call-iptables',
  '/proc/sys/net/bridge/bridge-nf-call-ip6tables',
];
const EXEC_WRAPPER =
  'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 126; shift; n=$((n-1)); done; exec "$@"';

export async function startNetwork(spec: TopologySpec, opts: StartOptions): Promise<EmulatedNetwork> {
  const log = opts.log ?? ((m: string) => console.warn(m));
  const progress = opts.onProgress ?? (() => undefined);
  assertValid(spec);
  const plan = planNetwork(spec, opts.runId);

  // Checks that need no resources come first, so a refused start creates nothing.
  const withDelay = plan.links.filter((l) => needsNetem(l.ab) || needsNetem(l.ba));
  let netem = false;
  if (withDelay.length > 0) {
    const probe =
      opts.netemAvailable === undefined
        ? await probeNetem()
        : { available: opts.netemAvailable, reason: opts.netemAvailable ? 'forced on' : 'forced off (test)' };
    netem = probe.available;
    if (!netem && !opts.linksWithoutDelay)
      throw new NetemMissingError(withDelay.map(describeDelay), probe.reason);
  }
  const layout = detectCgroups();
  const limited = plan.hosts.filter((h) => h.cpus !== undefined || h.memoryMb !== undefined);
  if (!layout && limited.length > 0) {
    throw new Error(
      `no cgroup cpu/memory controllers mounted, cannot limit hosts ${limited.map((h) => h.name).join(', ')}`,
    );
  }
  const inUse = listNamespaces().filter((n) => n.startsWith(namespacePrefix(opts.runId)));
  const previous = readState(opts.runDir);
  if (inUse.length > 0 || (previous && previous.phase !== 'stopped' && previous.phase !== 'failed')) {
    throw new Error(
      `run ${opts.runId} already has resources (${inUse.length} namespaces; state ${previous?.phase ?? 'none'} in ${opts.runDir}); ` +
        `stop it or clean it (cleanRun / mlfo-topo clean --run ${opts.runId}) first`,
    );
  }
  const access = planRootAccess(spec, plan, opts.rootAccess !== false);
  if (access.leg && access.subnet) checkRoutes(access.subnet, spec.hosts[0]?.name ?? '?', await rootRoutes());
  const { pairs, warnings: publishWarnings } = publishPlan(spec, access.leg !== null, opts.publish !== false);

  mkdirSync(opts.runDir, { recursive: true });
  writeFileSync(join(opts.runDir, 'topology.yaml'), toYaml(spec));
  const state: RunState = {
    version: 1,
    backend: 'netns',
    runId: opts.runId,
    tag: plan.tag,
    topology: spec.name,
    phase: 'starting',
    ownerPid: process.pid,
    startedAt: new Date().toISOString(),
    netem,
    namespaces: [],
    bridges: {},
    veths: [],
    rootAccess: access.leg,
    cgroups: [],
    processes: [],
    sysctls: [],
    linksWithoutDelay: [],
    published: [],
    warnings: [],
  };
  for (const w of [...access.warnings, ...publishWarnings]) {
    state.warnings.push(w);
    log(`warning: ${w}`);
  }
  if (withDelay.length > 0 && !netem) {
    state.linksWithoutDelay = withDelay.map((l) => ({ a: l.a.node, b: l.b.node, ab: l.ab, ba: l.ba }));
    const msg =
      `warning: no sch_netem in this kernel; running ${withDelay.length} link(s) WITHOUT their delay/jitter/loss ` +
      `(bandwidth still shaped): ${withDelay.map(describeDelay).join(', ')}`;
    state.warnings.push(msg);
    log(msg);
  }
  writeState(opts.runDir, state);

  const signals = catchStartSignals(progress, (sig) => new InterruptedError(sig));
  const step = signals.step;
  try {
    step(`namespaces ${plan.hosts.length}`);
    state.namespaces = plan.hosts.map((h) => h.ns);
    writeState(opts.runDir, state);
    await batch(
      ['ip'],
      plan.hosts.map((h) => `netns add ${h.ns}`),
    );

    if (plan.bridges.size > 0) {
      step('sysctl bridge-nf-call-iptables');
      for (const path of BRIDGE_NF) {
        if (!existsSync(path)) continue;
        const value = readFileSync(path, 'utf8').trim();
        if (value === '0') continue;
        state.sysctls.push({ path, previous: value, value: '0' });
        writeState(opts.runDir, state);
        writeFileSync(path, '0');
        log(
          `note: set ${path.slice('/proc/sys/'.length).replaceAll('/', '.')}=0 (was ${value}) so bridged traffic ` +
            "is not filtered by ip(6)tables (dockerd's FORWARD DROP policy); restored on stop",
        );
      }
    }

    // The ARP table is one for all namespaces (gc_thresh* apply machine-wide): a full mesh of n
    // hosts needs ~n² entries, past gc_thresh3 (1024 by default) new neighbours fail silently.
    const neighNeed = 2 * plan.hosts.length * plan.hosts.length;
    for (const [name, want] of [
      ['gc_thresh1', Math.ceil(neighNeed / 4)],
      ['gc_thresh2', Math.ceil(neighNeed / 2)],
      ['gc_thresh3', neighNeed],
    ] as const) {
      const path = `/proc/sys/net/ipv4/neigh/default/${name}`;
      if (!existsSync(path)) continue;
      const value = readFileSync(path, 'utf8').trim();
      if (Number(value) >= want) continue;
      state.sysctls.push({ path, previous: value, value: String(want) });
      writeState(opts.runDir, state);
      writeFileSync(path, String(want));
      log(
        `note: raised net.ipv4.neigh.default.${name} from ${value} to ${want} (ARP table for ${plan.hosts.length} hosts); restored on stop`,
      );
    }

    step(`switches ${plan.bridges.size}, links ${plan.links.length}`);
    state.bridges = Object.fromEntries(plan.bridges);
    state.veths = plan.links.flatMap((l) =>
      [l.a, l.b].filter((e) => e.kind === 'switch').map((e) => e.ifname),
    );
    if (access.leg) state.veths.push(access.leg.ifname);
    writeState(opts.runDir, state);
    await batch(['ip'], [...rootLines(plan), ...(access.leg ? rootLegLines(access.leg, opts.runId) : [])]);

    step(`addresses ${plan.hosts.length}`);
    await mapLimit(plan.hosts, 8, (h) => batch(['ip', '-n', h.ns], hostLines(h)));

    step('shaping');
    const tcRoot: string[] = [];
    const tcNs = new Map<string, string[]>();
    for (const l of plan.links) {
      for (const [end, shape] of [
        [l.a, l.ab],
        [l.b, l.ba],
      ] as const) {
        const lines = shapeLines(end.ifname, shape, netem, false);
        if (end.kind === 'switch') tcRoot.push(...lines);
        else tcNs.set(end.ns, [...(tcNs.get(end.ns) ?? []), ...lines]);
      }
    }
    await batch(['tc'], tcRoot);
    await mapLimit([...tcNs], 8, ([ns, lines]) => batch(['tc', '-n', ns], lines));

    if (layout) {
      step(`cgroups ${plan.hosts.length}`);
      state.cgroups = [
        ...runCgroupDirs(layout, opts.runId),
        ...plan.hosts.flatMap((h) => hostCgroupDirs(layout, opts.runId, h.name)),
      ];
      writeState(opts.runDir, state);
      createRunCgroup(layout, opts.runId);
      for (const h of plan.hosts) {
        createHostCgroup(layout, opts.runId, h.name);
        if (h.cpus !== undefined || h.memoryMb !== undefined) {
          applyLimits(layout, opts.runId, h.name, { cpus: h.cpus, memoryMb: h.memoryMb });
        }
      }
    }
    if (pairs.length > 0) {
      step(`publish ${pairs.length}`);
      await publishPorts(pairs, state, opts.runDir, log);
    }
    step('up');
    state.phase = 'up';
    writeState(opts.runDir, state);
    return new NetnsNetwork(spec, plan, state, opts.runDir, layout, netem);
  } catch (err) {
    const report = await teardown({ runId: opts.runId, state, byTag: true });
    state.phase = 'failed';
    writeState(opts.runDir, state);
    noteCleanupFailures(err, report.failures);
    throw err;
  } finally {
    signals.release();
  }
}

/** The forwarder's pairs, or why there are none although the spec publishes ports. */
function publishPlan(
  spec: TopologySpec,
  hasLeg: boolean,
  enabled: boolean,
): { pairs: (ForwardPair & { host: string })[]; warnings: string[] } {
  const pairs: (ForwardPair & { host: string })[] = [];
  for (const h of spec.hosts) {
    for (const [port, hostPort] of Object.entries(h.publish ?? {})) {
      pairs.push({
        host: h.name,
        listenHost: '127.0.0.1',
        listenPort: hostPort,
        targetHost: h.ip.split('/')[0] ?? '',
        targetPort: Number(port),
      });
    }
  }
  if (pairs.length === 0) return { pairs, warnings: [] };
  const list = pairs.map((p) => `${p.host}:${p.targetPort} as 127.0.0.1:${p.listenPort}`).join(', ');
  if (!enabled) return { pairs: [], warnings: [`ports not published (publish: false): ${list}`] };
  if (!hasLeg) {
    return {
      pairs: [],
      warnings: [
        `ports not published: forwarding needs the root access leg, which this run has not (${list})`,
      ],
    };
  }
  return { pairs, warnings: [] };
}

/** Starts the run's forwarder (recorded in the state before it reports); a port it cannot take is a warning. */
async function publishPorts(
  pairs: (ForwardPair & { host: string })[],
  state: RunState,
  runDir: string,
  log: (message: string) => void,
): Promise<void> {
  const logFile = join(runDir, 'logs', 'forwarder.log');
  mkdirSync(join(runDir, 'logs'), { recursive: true });
  const { report } = await startForwarder(pairs, {
    logFile,
    runId: state.runId,
    onSpawn: (pid, argv) => {
      state.processes.push({
        host: ROOT_HOST,
        pid,
        startTime: procStat(pid)?.startTime ?? '',
        argv,
        logFile,
        detached: true,
      });
      writeState(runDir, state);
    },
  });
  const hostOf = (p: ForwardPair) =>
    pairs.find(
      (q) => q.listenPort === p.listenPort && q.targetHost === p.targetHost && q.targetPort === p.targetPort,
    )?.host ?? '?';
  state.published = report.listening.map((p) => ({
    host: hostOf(p),
    port: p.targetPort,
    hostPort: p.listenPort,
  }));
  for (const f of report.failed) {
    const w = `${hostOf(f.pair)}:${f.pair.targetPort} not published: 127.0.0.1:${f.pair.listenPort} is not free (${f.reason})`;
    state.warnings.push(w);
    log(`warning: ${w}`);
  }
  writeState(runDir, state);
}

function describeDelay(l: PlannedLink): string {
  const dir = (s: LinkShape) => netemArgs(s) || 'none';
  const ab = dir(l.ab);
  const ba = dir(l.ba);
  return `${linkLabel(l.a.node, l.b.node)} (${ab === ba ? ab : `a→b ${ab}, b→a ${ba}`})`;
}

function rootLines(plan: NetworkPlan): string[] {
  const lines: string[] = [];
  for (const [sw, br] of plan.bridges) {
    lines.push(`link add name ${br} type bridge`, `link set dev ${br} alias mlfo:${plan.runId}:switch:${sw}`);
    lines.push(`link set dev ${br} up`);
  }
  const place = (e: LinkEnd) => (e.kind === 'host' ? `name ${e.ifname} netns ${e.ns}` : `name ${e.ifname}`);
  for (const l of plan.links) {
    lines.push(`link add ${place(l.a)} type veth peer ${place(l.b)}`);
    for (const e of [l.a, l.b]) {
      if (e.kind !== 'switch') continue;
      lines.push(`link set dev ${e.ifname} alias mlfo:${plan.runId}:link${l.index}:${e.node}`);
      lines.push(`link set dev ${e.ifname} master ${e.bridge}`, `link set dev ${e.ifname} up`);
    }
  }
  return lines;
}

function hostLines(h: PlannedHost): string[] {
  const lines = ['link set dev lo up'];
  for (const i of h.interfaces) lines.push(`link set dev ${i} up`);
  const first = h.interfaces[0];
  if (first !== undefined) lines.push(`addr add ${h.ip} dev ${first}`, `route add default dev ${first}`);
  return lines;
}

function applyChange(shape: LinkShape, ...changes: (ShapeChange | undefined)[]): LinkShape {
  const out: LinkShape = { ...shape };
  for (const c of changes) {
    if (!c) continue;
    for (const k of ['bandwidthMbps', 'delayMs', 'jitterMs', 'lossPercent'] as const) {
      const v = c[k];
      if (v === null) delete out[k];
      else if (v !== undefined) out[k] = v;
    }
  }
  return out;
}

/**
 * Rebuilds the running network of a run started by another process (e.g. `mlfo-topo up`) from
 * `<runDir>/topology.yaml` and state.json, with the link shapes and limits recorded there.
 */
export async function attachNetwork(runDir: string): Promise<EmulatedNetwork> {
  const state = readState(runDir);
  if (!state)
    throw new Error(`cannot attach: ${join(runDir, 'state.json')} not found (not a netns run directory)`);
  if (state.phase !== 'up') {
    throw new Error(
      `cannot attach to run ${state.runId} in ${runDir}: its phase is '${state.phase}', only a run that is 'up' ` +
        `can be attached. Remove what is left with \`mlfo-topo clean --run ${state.runId}\` and start it again.`,
    );
  }
  const specFile = join(runDir, 'topology.yaml');
  if (!existsSync(specFile)) {
    throw new Error(
      `cannot attach to run ${state.runId}: ${specFile} not found (written by startNetwork before anything is ` +
        `created; a run started by an older version has none). Stop it with \`mlfo-topo clean --run ${state.runId}\`.`,
    );
  }
  const { spec } = readTopologyFile(specFile);
  const plan = planNetwork(spec, state.runId);
  const present = new Set(listNamespaces());
  const missing = plan.hosts.filter((h) => !present.has(h.ns)).map((h) => h.ns);
  if (missing.length > 0) {
    throw new Error(
      `cannot attach to run ${state.runId}: state.json says 'up' but ${missing.length} namespace(s) are gone ` +
        `(${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}); remove the rest with ` +
        `\`mlfo-topo clean --run ${state.runId}\``,
    );
  }
  return new NetnsNetwork(spec, plan, state, runDir, detectCgroups(), state.netem ?? false);
}

class NetnsNetwork implements EmulatedNetwork {
  readonly backend = 'netns' as const;
  readonly runId: string;
  private stopping: Promise<TeardownReport> | undefined;
  private readonly hosts: Map<string, PlannedHost>;
  private readonly roles: Map<string, string>;
  private readonly children = new Set<ChildProcess>();

  constructor(
    readonly spec: TopologySpec,
    private readonly plan: NetworkPlan,
    private state: RunState,
    readonly runDir: string,
    private readonly layout: CgroupLayout | null,
    readonly netem: boolean,
  ) {
    this.runId = state.runId;
    this.hosts = new Map(plan.hosts.map((h) => [h.name, h]));
    this.roles = new Map(spec.hosts.map((h) => [h.name, h.role]));
    this.applyRecorded();
  }

  /** Takes over link shapes and limits recorded in the state (by this or another process). */
  private applyRecorded(): void {
    for (const [index, shape] of Object.entries(this.state.linkShapes ?? {})) {
      const link = this.plan.links.find((l) => l.index === Number(index));
      if (!link) continue;
      link.ab = { ...shape.ab };
      link.ba = { ...shape.ba };
    }
    for (const [name, limits] of Object.entries(this.state.limits ?? {})) {
      const h = this.hosts.get(name);
      if (!h) continue;
      delete h.cpus;
      delete h.memoryMb;
      if (limits.cpus !== undefined) h.cpus = limits.cpus;
      if (limits.memoryMb !== undefined) h.memoryMb = limits.memoryMb;
    }
  }

  /** Re-reads state.json, so changes made by another attached process are seen. */
  private refresh(): void {
    const fresh = readState(this.runDir);
    if (!fresh) return;
    this.state = fresh;
    this.applyRecorded();
  }

  /** Read-modify-write of state.json (never overwrites another process's changes with an old copy). */
  private update(change: (state: RunState) => void): void {
    this.state = updateState(this.runDir, this.state, change);
    this.applyRecorded();
  }

  private host(name: string): PlannedHost {
    const h = this.hosts.get(name);
    if (!h)
      throw new Error(
        `no host ${name} in topology ${this.spec.name} (hosts: ${[...this.hosts.keys()].join(', ')})`,
      );
    if (this.stopping) throw new Error(`network ${this.runId} is stopped`);
    return h;
  }

  namespace(host: string): string {
    return this.host(host).ns;
  }

  ip(host: string): string {
    return this.host(host).ip.split('/')[0] ?? '';
  }

  exec(host: string, argv: readonly string[], opts: ExecOptions = {}): HostProcess {
    const h = this.host(host);
    if (argv.length === 0) throw new Error(`exec on ${host}: empty command`);
    const logFile = opts.logFile ?? join(this.runDir, 'logs', `${host}.log`);
    mkdirSync(join(logFile, '..'), { recursive: true });
    const files = opts.cgroup !== false && this.layout ? procsFiles(this.layout, this.runId, host) : [];
    const detached = opts.detached === true;
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      // detached: a session of its own, so it outlives this process and no terminal signal reaches it
      child = spawn(
        'sh',
        ['-c', EXEC_WRAPPER, 'sh', String(files.length), ...files, 'ip', 'netns', 'exec', h.ns, ...argv],
        { stdio: ['ignore', fd, fd], env: { ...process.env, ...h.env, ...opts.env }, detached },
      );
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error(`exec on ${host}: could not start ${argv.join(' ')}`);
    if (detached) child.unref();
    this.children.add(child);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('exit', (code, signal) => {
        this.children.delete(child);
        resolve({ code, signal });
      });
      child.on('error', () => resolve({ code: null, signal: null }));
    });
    const record = {
      host,
      pid,
      startTime: procStat(pid)?.startTime ?? '',
      argv: [...argv],
      logFile,
      ...(detached ? { detached } : {}),
    };
    this.update((s) => {
      s.processes.push(record);
    });
    return {
      host,
      pid,
      argv: [...argv],
      logFile,
      exited,
      kill: (signal: NodeJS.Signals = 'SIGTERM') => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        // a detached process leads its process group: end what it spawned with it
        if (!detached) {
          child.kill(signal);
          return;
        }
        try {
          process.kill(-pid, signal);
        } catch {
          // the group is already gone
        }
      },
    };
  }

  run(host: string, argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    const runOpts = opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {};
    return run(['ip', 'netns', 'exec', this.host(host).ns, ...argv], runOpts);
  }

  limit(host: string, limits: Limits): void {
    this.refresh();
    const h = this.host(host);
    if (!this.layout) throw new Error(`limit ${host}: no cgroup controllers on this machine`);
    applyLimits(this.layout, this.runId, host, limits);
    const current: { cpus?: number; memoryMb?: number } = {};
    const cpus = limits.cpus === undefined ? h.cpus : limits.cpus;
    const memoryMb = limits.memoryMb === undefined ? h.memoryMb : limits.memoryMb;
    if (cpus !== undefined && cpus !== null) current.cpus = cpus;
    if (memoryMb !== undefined && memoryMb !== null) current.memoryMb = memoryMb;
    this.update((s) => {
      s.limits = { ...s.limits, [host]: current };
    });
  }

  async setLink(a: string, b: string, change: LinkChange): Promise<void> {
    if (this.stopping) throw new Error(`network ${this.runId} is stopped`);
    this.refresh();
    const matches = this.plan.links.filter(
      (l) => (l.a.node === a && l.b.node === b) || (l.a.node === b && l.b.node === a),
    );
    if (matches.length === 0) throw new Error(`no link between ${a} and ${b} in topology ${this.spec.name}`);
    // Without netem only a change that itself asks for delay/jitter/loss is refused: a link that
    // kept its spec delay unapplied (linksWithoutDelay) can still have its bandwidth changed.
    const asks = (c?: ShapeChange) =>
      c !== undefined && [c.delayMs, c.jitterMs, c.lossPercent].some((v) => typeof v === 'number' && v > 0);
    if (!this.netem && (asks(change) || asks(change.ab) || asks(change.ba))) {
      throw new Error(
        `setLink ${linkLabel(a, b)}: this kernel has no sch_netem, so delay, jitter and loss cannot be set; ` +
          'nothing was changed (bandwidth can be changed: bandwidthMbps / --bandwidth-mbps)',
      );
    }
    const updates: { link: PlannedLink; ab: LinkShape; ba: LinkShape }[] = [];
    for (const l of matches) {
      const forward = l.a.node === a;
      const ab = applyChange(l.ab, change, forward ? change.ab : change.ba);
      const ba = applyChange(l.ba, change, forward ? change.ba : change.ab);
      updates.push({ link: l, ab, ba });
    }
    for (const { link, ab, ba } of updates) {
      for (const [end, before, after] of [
        [link.a, link.ab, ab],
        [link.b, link.ba, ba],
      ] as const) {
        const lines = shapeLines(end.ifname, after, this.netem, isShaped(before, this.netem));
        await batch(end.kind === 'host' ? ['tc', '-n', end.ns] : ['tc'], lines);
      }
      link.ab = ab;
      link.ba = ba;
      this.update((s) => {
        s.linkShapes = { ...s.linkShapes, [String(link.index)]: { ab, ba } };
      });
    }
  }

  async pingAll(opts: { count?: number; timeoutMs?: number } = {}): Promise<PingReport> {
    const count = Math.max(1, Math.floor(opts.count ?? 1));
    const waitS = Math.max(1, Math.ceil((opts.timeoutMs ?? 1000) / 1000));
    const hosts = this.plan.hosts;
    const byIp = new Map(hosts.map((h) => [h.ip.split('/')[0] ?? '', h.name]));
    // One shell per source host pings every target in parallel; counts and targets are arguments.
    const script =
      'c=$1; w=$2; shift 2; for ip in "$@"; do ' +
      '( r=$(ping -n -q -c "$c" -W "$w" -i 0.2 "$ip" 2>/dev/null | sed -n "s/.* \\([0-9][0-9]*\\) received.*/\\1/p"); ' +
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
      'echo "$ip ${r:-0}" ) & done; wait';
    const pingFrom = async (
      src: PlannedHost,
      targets: string[],
      c: number,
    ): Promise<Record<string, number>> => {
      const { stdout } = await this.run(
        src.name,
        ['sh', '-c', script, 'sh', String(c), String(waitS), ...targets],
        {
          timeoutMs: (c * 0.2 + waitS) * 1000 + 30_000,
        },
      );
      const row: Record<string, number> = {};
      for (const line of stdout.split('\n')) {
        const [ip, n] = line.trim().split(' ');
        const name = ip ? byIp.get(ip) : undefined;
        if (name) row[name] = Number(n);
      }
      return row;
    };
    const matrix: Record<string, Record<string, number>> = {};
    await mapLimit(hosts, 4, async (src) => {
      matrix[src.name] = await pingFrom(
        src,
        hosts.filter((h) => h !== src).map((h) => h.ip.split('/')[0] ?? ''),
        count,
      );
    });
    // Pairs that lost packets among dozens of simultaneous pings are asked once more on their own
    // before they count as lossy (`retried` says how many were).
    let retried = 0;
    for (const src of hosts) {
      const row = matrix[src.name] ?? {};
      const again = hosts.filter((h) => h !== src && (row[h.name] ?? 0) < count);
      if (again.length === 0) continue;
      retried += again.length;
      Object.assign(
        row,
        await pingFrom(
          src,
          again.map((h) => h.ip.split('/')[0] ?? ''),
          count,
        ),
      );
      matrix[src.name] = row;
    }
    return pingReport(
      hosts.map((h) => h.name),
      matrix,
      count,
      retried,
    );
  }

  async iperf(a: string, b: string, opts: { seconds?: number; port?: number } = {}): Promise<IperfResult> {
    return iperf3Between(
      {
        from: a,
        to: b,
        label: `${a} → ${b}`,
        toIp: this.ip(b),
        inReceiver: ['ip', 'netns', 'exec', this.namespace(b)],
        runInSender: (argv, runOpts) => this.run(a, argv, runOpts),
      },
      opts,
    );
  }

  status(): NetnsNetworkStatus {
    this.refresh();
    const lacking = new Set(this.state.linksWithoutDelay.map((l) => linkLabel(l.a, l.b)));
    const leg = this.state.rootAccess;
    return {
      runId: this.runId,
      backend: 'netns',
      phase: this.state.phase,
      netem: this.netem,
      cgroups: this.layout ? `v${this.layout.version}` : 'none',
      hosts: this.plan.hosts.map((h) => {
        const limits: { cpus?: number; memoryMb?: number } = {};
        if (h.cpus !== undefined) limits.cpus = h.cpus;
        if (h.memoryMb !== undefined) limits.memoryMb = h.memoryMb;
        return {
          name: h.name,
          namespace: h.ns,
          ip: h.ip,
          role: this.roles.get(h.name) ?? 'plain',
          interfaces: h.interfaces,
          limits,
          processes: this.state.processes
            .filter((p) => p.host === h.name)
            .map((p) => {
              const info = procStat(p.pid);
              return {
                pid: p.pid,
                alive: info?.alive === true && info.startTime === p.startTime,
                argv: p.argv,
              };
            }),
        };
      }),
      switches: [...this.plan.bridges].map(([name, bridge]) => ({ name, bridge })),
      links: this.plan.links.map((l) => ({
        a: l.a.node,
        b: l.b.node,
        aInterface: l.a.ifname,
        bInterface: l.b.ifname,
        ab: { ...l.ab },
        ba: { ...l.ba },
        delayApplied: !lacking.has(linkLabel(l.a.node, l.b.node)),
        shaped: true,
      })),
      linksWithoutDelay: [...lacking],
      published: [...(this.state.published ?? [])],
      sysctls: this.state.sysctls,
      rootAccess: leg ? { interface: leg.ifname, address: leg.address, switch: leg.switch } : null,
      warnings: this.state.warnings,
    };
  }

  stop(): Promise<TeardownReport> {
    this.stopping ??= (async () => {
      this.update((s) => {
        s.phase = 'stopping';
      });
      const report = await teardown({ runId: this.runId, state: this.state, byTag: true });
      this.update((s) => {
        s.phase = 'stopped';
      });
      if (report.failures.length > 0) throw new TeardownError(report);
      return report;
    })();
    return this.stopping;
  }
}
