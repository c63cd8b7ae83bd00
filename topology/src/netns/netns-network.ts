// The running network of a netns run (what startNetwork and attachNetwork return): a host's
// processes run in its namespace (`ip netns exec`) and its cgroup, setLink re-shapes links with
// tc, limit writes the host's cgroup, and every change is recorded in `<runDir>/state.json` so
// another process attached to the run sees it. `stop()` tears the run down (teardown.ts).

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
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
import { run } from '../sh.ts';
import type { TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import { type CgroupLayout, applyLimits, procsFiles } from './cgroups.ts';
import { changedShapes, reshapeLink } from './links.ts';
import { type NetworkPlan, type PlannedHost, linkLabel } from './plan.ts';
import { type RunState, readState, updateState } from './state.ts';
import { teardown } from './teardown.ts';

/** status() of the netns backend: the shared fields plus what only this backend has. */
export interface NetnsNetworkStatus extends NetworkStatus {
  sysctls: RunState['sysctls'];
  /** the veth from the root namespace into the topology; null when the run has none */
  rootAccess: { interface: string; address: string; switch: string } | null;
}

const EXEC_WRAPPER =
  'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 126; shift; n=$((n-1)); done; exec "$@"';

/**
 * A subclass (the docker backend's network) changes how a process enters a host (`enter`, the
 * argv and env it gets, the cgroup it joins), limits and status; links, shaping, pingAll and
 * iperf are this class's, run on the host's namespace with this machine's tools.
 */
export class NetnsNetwork implements EmulatedNetwork {
  readonly backend: string = 'netns';
  readonly runId: string;
  protected stopping: Promise<TeardownReport> | undefined;
  protected readonly hosts: Map<string, PlannedHost>;
  private readonly roles: Map<string, string>;
  private readonly children = new Set<ChildProcess>();

  constructor(
    readonly spec: TopologySpec,
    protected readonly plan: NetworkPlan,
    protected state: RunState,
    readonly runDir: string,
    protected readonly layout: CgroupLayout | null,
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
  protected refresh(): void {
    const fresh = readState(this.runDir, this.state.backend ?? 'netns');
    if (!fresh) return;
    this.state = fresh;
    this.applyRecorded();
  }

  /** Read-modify-write of state.json (never overwrites another process's changes with an old copy). */
  protected update(change: (state: RunState) => void): void {
    this.state = updateState(this.runDir, this.state, change);
    this.applyRecorded();
  }

  protected host(name: string): PlannedHost {
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

  /** The argv prefix that runs a command in the host. */
  protected enter(h: PlannedHost): string[] {
    return ['ip', 'netns', 'exec', h.ns];
  }

  /** The command as the host runs it (a backend whose hosts have their own files may map it). */
  protected hostArgv(_h: PlannedHost, argv: readonly string[]): string[] {
    return [...argv];
  }

  /** The environment of a process started in the host. */
  protected execEnv(h: PlannedHost, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
    return { ...process.env, ...h.env, ...extra };
  }

  /** The cgroup.procs files a process of the host is written to before it runs. */
  protected cgroupFiles(h: PlannedHost): string[] {
    return this.layout ? procsFiles(this.layout, this.runId, h.name) : [];
  }

  /** Whether a process leads its own process group (kill() then ends the whole group). */
  protected ownGroup(detached: boolean): boolean {
    return detached;
  }

  /** Runs a measuring command (ping, iperf3) of this machine in the host's network namespace. */
  protected measure(
    host: string,
    argv: readonly string[],
    opts: { timeoutMs?: number } = {},
  ): Promise<RunResult> {
    const runOpts = opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {};
    return run(['ip', 'netns', 'exec', this.host(host).ns, ...argv], runOpts);
  }

  exec(host: string, argv: readonly string[], opts: ExecOptions = {}): HostProcess {
    const h = this.host(host);
    if (argv.length === 0) throw new Error(`exec on ${host}: empty command`);
    const logFile = opts.logFile ?? join(this.runDir, 'logs', `${host}.log`);
    mkdirSync(join(logFile, '..'), { recursive: true });
    const files = opts.cgroup !== false ? this.cgroupFiles(h) : [];
    const detached = opts.detached === true;
    const group = this.ownGroup(detached);
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      // detached: a session of its own, so it outlives this process and no terminal signal reaches it
      child = spawn(
        'sh',
        [
          '-c',
          EXEC_WRAPPER,
          'sh',
          String(files.length),
          ...files,
          ...this.enter(h),
          ...this.hostArgv(h, argv),
        ],
        { stdio: ['ignore', fd, fd], env: this.execEnv(h, opts.env), detached: group },
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
        if (!group) {
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
    const h = this.host(host);
    return run([...this.enter(h), ...this.hostArgv(h, argv)], runOpts);
  }

  limit(host: string, limits: Limits): void {
    this.refresh();
    const h = this.host(host);
    if (!this.layout) throw new Error(`limit ${host}: no cgroup controllers on this machine`);
    applyLimits(this.layout, this.runId, host, limits);
    this.recordLimits(host, h, limits);
  }

  /** The host's limits after a change, in the run state: the changed ones over the spec's. */
  protected recordLimits(host: string, h: { cpus?: number; memoryMb?: number }, limits: Limits): void {
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
    const updates = matches.map((link) => ({ link, ...changedShapes(link, change, link.a.node === a) }));
    for (const { link, ab, ba } of updates) {
      await reshapeLink(link, ab, ba, this.netem);
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
      const { stdout } = await this.measure(
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
        runInSender: (argv, runOpts) => this.measure(a, argv, runOpts),
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
      backend: this.backend,
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

  protected teardownRun(): Promise<TeardownReport> {
    return teardown({ runId: this.runId, state: this.state, byTag: true });
  }

  stop(): Promise<TeardownReport> {
    this.stopping ??= (async () => {
      this.update((s) => {
        s.phase = 'stopping';
      });
      const report = await this.teardownRun();
      this.update((s) => {
        s.phase = 'stopped';
      });
      if (report.failures.length > 0) throw new TeardownError(report);
      return report;
    })();
    return this.stopping;
  }
}
