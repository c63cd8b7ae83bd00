// The netns backend (Mininet's way): a host is a network namespace, a switch a Linux bridge in
// the root namespace, a link a veth pair whose ends sit in the hosts' namespaces or on the
// bridges, shaped with tc on each end's egress. `startNetwork` turns a spec into a running
// network and returns it started; `stop()` undoes everything it made and nothing else.
//
// Resources are recorded in `<runDir>/state.json` before they are created, all carry the run id
// (see plan.ts), and a failure or SIGINT/SIGTERM during start removes what was made before the
// error is rethrown. Creation is batched (`ip -batch -`, `tc -batch -`) to keep bring-up fast.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LinkShape, TopologySpec } from '../spec/topology-spec.ts';
import { assertValid } from '../spec/validate.ts';
import {
  type CgroupLayout,
  type Limits,
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
import { type RunResult, batch, mapLimit, run, spawnUntil } from './sh.ts';
import { isShaped, netemArgs, probeNetem, shapeLines } from './shaping.ts';
import { type RunState, readState, writeState } from './state.ts';
import { type TeardownReport, TeardownError, listNamespaces, procInfo, teardown } from './teardown.ts';

export interface StartOptions {
  /** tags every resource of the run; [A-Za-z0-9_-], ≤ 48 characters */
  runId: string;
  /** where state.json and logs/ go */
  runDir: string;
  /** run links that ask for delay/jitter/loss without them when sch_netem is missing */
  linksWithoutDelay?: boolean;
  /** overrides the sch_netem probe (tests) */
  netemAvailable?: boolean;
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

export interface ExecOptions {
  /** stdout and stderr are appended here; default <runDir>/logs/<host>.log */
  logFile?: string;
  env?: Record<string, string>;
  /** place the process in the host's cgroup (default true) */
  cgroup?: boolean;
}

export interface HostProcess {
  host: string;
  pid: number;
  argv: string[];
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/** Shape change for setLink: fields given replace the current ones (null removes); ab/ba are per direction. */
export interface ShapeChange {
  bandwidthMbps?: number | null;
  delayMs?: number | null;
  jitterMs?: number | null;
  lossPercent?: number | null;
}
export interface LinkChange extends ShapeChange {
  ab?: ShapeChange;
  ba?: ShapeChange;
}

export interface PingReport {
  hosts: string[];
  sent: number;
  received: number;
  lossPercent: number;
  /** pairs that lost packets in the first pass and were pinged again */
  retried: number;
  /** pairs that lost packets */
  lossy: { from: string; to: string; sent: number; received: number }[];
  /** from → to → packets received */
  matrix: Record<string, Record<string, number>>;
}

export interface IperfResult {
  from: string;
  to: string;
  seconds: number;
  /** receiver-side goodput */
  mbps: number;
  sentMbps: number;
  retransmits?: number;
}

export interface NetworkStatus {
  runId: string;
  phase: RunState['phase'];
  netem: boolean;
  cgroups: string;
  hosts: {
    name: string;
    namespace: string;
    ip: string;
    interfaces: string[];
    limits: { cpus?: number; memoryMb?: number };
    processes: { pid: number; alive: boolean; argv: string[] }[];
  }[];
  switches: { name: string; bridge: string }[];
  links: {
    a: string;
    b: string;
    aInterface: string;
    bInterface: string;
    ab: LinkShape;
    ba: LinkShape;
    delayApplied: boolean;
  }[];
  linksWithoutDelay: string[];
  sysctls: RunState['sysctls'];
  warnings: string[];
}

export interface StartedNetwork {
  readonly runId: string;
  readonly runDir: string;
  readonly spec: TopologySpec;
  /** whether delay/jitter/loss are applied (sch_netem present) */
  readonly netem: boolean;
  namespace(host: string): string;
  ip(host: string): string;
  /** starts a long-running process in the host (its namespace and cgroup), output to a log file */
  exec(host: string, argv: readonly string[], opts?: ExecOptions): HostProcess;
  /** runs a command in the host's namespace and waits for it; throws with its stderr on failure */
  run(host: string, argv: readonly string[], opts?: { timeoutMs?: number }): Promise<RunResult>;
  /** changes CPU/memory limits of a host while it runs (as `docker update --cpus`) */
  limit(host: string, limits: Limits): void;
  /** changes the shaping of the link(s) between a and b while it runs */
  setLink(a: string, b: string, change: LinkChange): Promise<void>;
  pingAll(opts?: { count?: number; timeoutMs?: number }): Promise<PingReport>;
  iperf(a: string, b: string, opts?: { seconds?: number; port?: number }): Promise<IperfResult>;
  status(): NetworkStatus;
  /** undoes everything; safe to call twice; throws TeardownError listing every failure */
  stop(): Promise<TeardownReport>;
}

const BRIDGE_NF = [
  '/proc/sys/net/bridge/bridge-nf-call-iptables',
  '/proc/sys/net/bridge/bridge-nf-call-ip6tables',
];
const EXEC_WRAPPER =
  'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 126; shift; n=$((n-1)); done; exec "$@"';

export async function startNetwork(spec: TopologySpec, opts: StartOptions): Promise<StartedNetwork> {
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

  const state: RunState = {
    version: 1,
    runId: opts.runId,
    tag: plan.tag,
    topology: spec.name,
    phase: 'starting',
    ownerPid: process.pid,
    startedAt: new Date().toISOString(),
    namespaces: [],
    bridges: {},
    veths: [],
    cgroups: [],
    processes: [],
    sysctls: [],
    linksWithoutDelay: [],
    warnings: [],
  };
  if (withDelay.length > 0 && !netem) {
    state.linksWithoutDelay = withDelay.map((l) => ({ a: l.a.node, b: l.b.node, ab: l.ab, ba: l.ba }));
    const msg =
      `warning: no sch_netem in this kernel; running ${withDelay.length} link(s) WITHOUT their delay/jitter/loss ` +
      `(bandwidth still shaped): ${withDelay.map(describeDelay).join(', ')}`;
    state.warnings.push(msg);
    log(msg);
  }
  writeState(opts.runDir, state);

  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted ??= sig;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const step = (name: string) => {
    if (interrupted) throw new InterruptedError(interrupted);
    progress(name);
  };
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
    writeState(opts.runDir, state);
    await batch(['ip'], rootLines(plan));

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
    step('up');
    state.phase = 'up';
    writeState(opts.runDir, state);
    return new NetnsNetwork(spec, plan, state, opts, layout, netem);
  } catch (err) {
    const report = await teardown({ runId: opts.runId, state, byTag: true });
    state.phase = 'failed';
    writeState(opts.runDir, state);
    if (report.failures.length > 0 && err instanceof Error) {
      err.message += `\n(cleanup after the failure left problems: ${report.failures.join('; ')})`;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
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

class NetnsNetwork implements StartedNetwork {
  readonly runId: string;
  readonly runDir: string;
  private stopping: Promise<TeardownReport> | undefined;
  private readonly hosts: Map<string, PlannedHost>;
  private readonly children = new Set<ChildProcess>();

  constructor(
    readonly spec: TopologySpec,
    private readonly plan: NetworkPlan,
    private readonly state: RunState,
    opts: StartOptions,
    private readonly layout: CgroupLayout | null,
    readonly netem: boolean,
  ) {
    this.runId = opts.runId;
    this.runDir = opts.runDir;
    this.hosts = new Map(plan.hosts.map((h) => [h.name, h]));
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
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        'sh',
        ['-c', EXEC_WRAPPER, 'sh', String(files.length), ...files, 'ip', 'netns', 'exec', h.ns, ...argv],
        { stdio: ['ignore', fd, fd], env: { ...process.env, ...h.env, ...opts.env } },
      );
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error(`exec on ${host}: could not start ${argv.join(' ')}`);
    this.children.add(child);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('exit', (code, signal) => {
        this.children.delete(child);
        resolve({ code, signal });
      });
      child.on('error', () => resolve({ code: null, signal: null }));
    });
    this.state.processes.push({
      host,
      pid,
      startTime: procInfo(pid)?.startTime ?? '',
      argv: [...argv],
      logFile,
    });
    writeState(this.runDir, this.state);
    return {
      host,
      pid,
      argv: [...argv],
      logFile,
      exited,
      kill: (signal: NodeJS.Signals = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
    };
  }

  run(host: string, argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    const runOpts = opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {};
    return run(['ip', 'netns', 'exec', this.host(host).ns, ...argv], runOpts);
  }

  limit(host: string, limits: Limits): void {
    const h = this.host(host);
    if (!this.layout) throw new Error(`limit ${host}: no cgroup controllers on this machine`);
    applyLimits(this.layout, this.runId, host, limits);
    if (limits.cpus !== undefined) {
      if (limits.cpus === null) delete h.cpus;
      else h.cpus = limits.cpus;
    }
    if (limits.memoryMb !== undefined) {
      if (limits.memoryMb === null) delete h.memoryMb;
      else h.memoryMb = limits.memoryMb;
    }
  }

  async setLink(a: string, b: string, change: LinkChange): Promise<void> {
    if (this.stopping) throw new Error(`network ${this.runId} is stopped`);
    const matches = this.plan.links.filter(
      (l) => (l.a.node === a && l.b.node === b) || (l.a.node === b && l.b.node === a),
    );
    if (matches.length === 0) throw new Error(`no link between ${a} and ${b} in topology ${this.spec.name}`);
    const updates: { link: PlannedLink; ab: LinkShape; ba: LinkShape }[] = [];
    for (const l of matches) {
      const forward = l.a.node === a;
      const ab = applyChange(l.ab, change, forward ? change.ab : change.ba);
      const ba = applyChange(l.ba, change, forward ? change.ba : change.ab);
      if (!this.netem && (needsNetem(ab) || needsNetem(ba))) {
        throw new NetemMissingError([`${linkLabel(a, b)} (${netemArgs(ab)})`], 'probed at start');
      }
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
    const lossy: PingReport['lossy'] = [];
    let received = 0;
    for (const src of hosts) {
      for (const dst of hosts) {
        if (src === dst) continue;
        const got = matrix[src.name]?.[dst.name] ?? 0;
        received += got;
        if (got < count) lossy.push({ from: src.name, to: dst.name, sent: count, received: got });
      }
    }
    const sent = hosts.length * (hosts.length - 1) * count;
    return {
      hosts: hosts.map((h) => h.name),
      sent,
      received,
      lossPercent: sent === 0 ? 0 : +((100 * (sent - received)) / sent).toFixed(2),
      lossy,
      retried,
      matrix,
    };
  }

  async iperf(a: string, b: string, opts: { seconds?: number; port?: number } = {}): Promise<IperfResult> {
    const seconds = opts.seconds ?? 3;
    const port = String(opts.port ?? 5201);
    const server = await spawnUntil(
      [
        'ip',
        'netns',
        'exec',
        this.namespace(b),
        'iperf3',
        '-s',
        '-1',
        '--forceflush',
        '-B',
        this.ip(b),
        '-p',
        port,
      ],
      /Server listening/,
      10_000,
    );
    try {
      const { stdout } = await this.run(
        a,
        ['iperf3', '-c', this.ip(b), '-p', port, '-t', String(seconds), '-J'],
        {
          timeoutMs: (seconds + 20) * 1000,
        },
      );
      const j = JSON.parse(stdout) as {
        end?: {
          sum_received?: { bits_per_second: number };
          sum_sent?: { bits_per_second: number; retransmits?: number };
        };
        error?: string;
      };
      if (!j.end?.sum_received || !j.end.sum_sent)
        throw new Error(`iperf3 ${a} → ${b}: ${j.error ?? 'no result'}`);
      const r: IperfResult = {
        from: a,
        to: b,
        seconds,
        mbps: +(j.end.sum_received.bits_per_second / 1e6).toFixed(2),
        sentMbps: +(j.end.sum_sent.bits_per_second / 1e6).toFixed(2),
      };
      if (j.end.sum_sent.retransmits !== undefined) r.retransmits = j.end.sum_sent.retransmits;
      return r;
    } finally {
      server.child.kill('SIGKILL');
    }
  }

  status(): NetworkStatus {
    const lacking = new Set(this.state.linksWithoutDelay.map((l) => linkLabel(l.a, l.b)));
    return {
      runId: this.runId,
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
          interfaces: h.interfaces,
          limits,
          processes: this.state.processes
            .filter((p) => p.host === h.name)
            .map((p) => {
              const info = procInfo(p.pid);
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
        ab: l.ab,
        ba: l.ba,
        delayApplied: !lacking.has(linkLabel(l.a.node, l.b.node)),
      })),
      linksWithoutDelay: [...lacking],
      sysctls: this.state.sysctls,
      warnings: this.state.warnings,
    };
  }

  stop(): Promise<TeardownReport> {
    this.stopping ??= (async () => {
      this.state.phase = 'stopping';
      writeState(this.runDir, this.state);
      const report = await teardown({ runId: this.runId, state: this.state, byTag: true });
      this.state.phase = 'stopped';
      writeState(this.runDir, this.state);
      if (report.failures.length > 0) throw new TeardownError(report);
      return report;
    })();
    return this.stopping;
  }
}
