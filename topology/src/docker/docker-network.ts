// The running network of a docker run: a NetnsNetwork whose hosts are containers, as Containernet's
// Docker host is a Mininet host. Links, shaping, setLink, pingAll and iperf are the netns code on
// the containers' namespaces (named under /run/netns). What differs is here: a process enters the
// container (nsenter into its mount, uts, ipc, net and pid namespaces, in its cgroup, with its
// environment, as `docker exec` does, but as a child of this process so its pid, log and exit are
// handled as on netns); this machine's node (process.execPath) becomes the image's `node`; limits
// go through the engine (`docker update`); status adds each container's state, limits and health.
// Node programs run from the image (programSite: /app, its node and tools) and see the run
// directory, mounted at its own path; hosts with a user's image or `command:` run their own.

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Limits, ProgramSite, RunResult, TeardownReport } from '../network.ts';
import type { NetworkPlan, PlannedHost } from '../netns/plan.ts';
import { NetnsNetwork, type NetnsNetworkStatus } from '../netns/netns-network.ts';
import type { RunState } from '../netns/state.ts';
import { run } from '../sh.ts';
import type { TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import { docker } from './engine.ts';
import { IMAGE_ROOT, PROJECT_IMAGE } from './images.ts';
import { dockerTeardown } from './teardown.ts';

/** What the network knows of a host's container. */
export interface HostContainer {
  id: string;
  name: string;
  image: string;
  /** pid of its main process on this machine */
  pid: number;
  env: string[];
}

export interface ContainerStatus {
  host: string;
  name: string;
  id: string;
  image: string;
  /** running, exited, … ('missing' when the engine does not know it) */
  state: string;
  exitCode?: number;
  health?: string;
  limits: { cpus?: number; memoryMb?: number };
}

export interface DockerNetworkStatus extends NetnsNetworkStatus {
  containers: ContainerStatus[];
}

export function hostImage(spec: TopologySpec, host: string): string {
  return spec.hosts.find((h) => h.name === host)?.image ?? PROJECT_IMAGE;
}

/** A host that runs its own command (a user's image, or `command:`): no node program goes in it. */
export function runsOwnCommand(spec: TopologySpec, host: string): boolean {
  const h = spec.hosts.find((x) => x.name === host);
  return hostImage(spec, host) !== PROJECT_IMAGE || h?.command !== undefined;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The cgroup.procs files of the cgroups process `pid` is in (v1: one per hierarchy; v2: one). */
export function cgroupProcsOf(pid: number): string[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return [];
  }
  const files = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, controllers = '', path = ''] = m;
    if (controllers === '') {
      // the v2 line: only where v2 is the only hierarchy (v1 machines list it empty)
      if (text.split('\n').filter(Boolean).length === 1) files.add(join(CGROUP_ROOT, path, 'cgroup.procs'));
      continue;
    }
    if (controllers.startsWith('name=')) continue;
    const first = controllers.split(',')[0] ?? '';
    files.add(join(CGROUP_ROOT, first, path, 'cgroup.procs'));
  }
  return [...files];
}

export class DockerNetwork extends NetnsNetwork {
  override readonly backend: string = 'docker';
  readonly programSite: ProgramSite;

  constructor(
    spec: TopologySpec,
    plan: NetworkPlan,
    state: RunState,
    runDir: string,
    netem: boolean,
    private readonly containers: Map<string, HostContainer>,
  ) {
    super(spec, plan, state, runDir, null, netem);
    this.programSite = { root: IMAGE_ROOT, node: 'node', tools: 'host', shared: [resolve(runDir)] };
  }

  ownCommand(host: string): boolean {
    return runsOwnCommand(this.spec, host);
  }

  private container(h: PlannedHost): HostContainer {
    const c = this.containers.get(h.name);
    if (!c) throw new Error(`host ${h.name} has no container in run ${this.runId}`);
    return c;
  }

  protected override enter(h: PlannedHost): string[] {
    const c = this.container(h);
    return ['nsenter', '-t', String(c.pid), '-m', '-u', '-i', '-n', '-p', '--wd', '--'];
  }

  protected override hostArgv(_h: PlannedHost, argv: readonly string[]): string[] {
    const [first, ...rest] = argv;
    return first === process.execPath ? ['node', ...rest] : [...argv];
  }

  protected override execEnv(h: PlannedHost, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const kv of this.container(h).env) {
      const i = kv.indexOf('=');
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return { ...env, ...extra };
  }

  protected override cgroupFiles(h: PlannedHost): string[] {
    return cgroupProcsOf(this.container(h).pid);
  }

  /** nsenter forks into the container's pid namespace: kill() must reach its child too. */
  protected override ownGroup(): boolean {
    return true;
  }

  override run(host: string, argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    const h = this.host(host);
    return run([...this.enter(h), ...this.hostArgv(h, argv)], {
      env: this.execEnv(h, undefined),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
  }

  terminalCommand(
    host: string,
    argv: readonly string[],
    env: Record<string, string>,
    tty: boolean,
  ): string[] {
    const c = this.container(this.host(host));
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    return ['docker', 'exec', ...(tty ? ['-it'] : ['-i']), ...envArgs, c.name, ...argv];
  }

  override limit(host: string, limits: Limits): void {
    this.refresh();
    const h = this.host(host);
    const c = this.container(h);
    const args = ['update'];
    if (limits.cpus !== undefined) {
      if (limits.cpus !== null && !(limits.cpus > 0))
        throw new Error(`host ${host}: cpus must be > 0 (got ${limits.cpus})`);
      args.push('--cpus', String(limits.cpus ?? 0));
    }
    if (limits.memoryMb !== undefined) {
      if (limits.memoryMb !== null && !(limits.memoryMb > 0)) {
        throw new Error(`host ${host}: memoryMb must be > 0 (got ${limits.memoryMb})`);
      }
      const bytes = limits.memoryMb === null ? '-1' : String(Math.round(limits.memoryMb * 1024 * 1024));
      args.push('--memory', bytes, '--memory-swap', bytes);
    }
    if (args.length === 1) return;
    const r = docker([...args, c.id], { timeoutMs: 30_000 });
    if (r.code !== 0)
      throw new Error(`limit ${host}: docker ${args.join(' ')} ${c.name} failed: ${r.stderr.trim()}`);
    this.recordLimits(host, h, limits);
  }

  override status(): DockerNetworkStatus {
    const base = super.status();
    const ids = [...this.containers.values()].map((c) => c.id);
    const r = docker(['inspect', ...ids], { timeoutMs: 30_000 });
    const seen = new Map<string, Record<string, unknown>>();
    try {
      for (const j of JSON.parse(r.stdout || '[]') as Record<string, unknown>[]) seen.set(String(j.Id), j);
    } catch {
      /* every container counts as missing below */
    }
    const containers: ContainerStatus[] = [...this.containers].map(([host, c]) => {
      const j = seen.get(c.id) as
        | {
            State: { Status: string; ExitCode: number; Health?: { Status: string } };
            HostConfig: { NanoCpus: number; Memory: number };
          }
        | undefined;
      const limits: { cpus?: number; memoryMb?: number } = {};
      if (j && j.HostConfig.NanoCpus > 0) limits.cpus = j.HostConfig.NanoCpus / 1e9;
      if (j && j.HostConfig.Memory > 0) limits.memoryMb = j.HostConfig.Memory / (1024 * 1024);
      const out: ContainerStatus = {
        host,
        name: c.name,
        id: c.id,
        image: c.image,
        state: j?.State.Status ?? 'missing',
        limits,
      };
      if (j) out.exitCode = j.State.ExitCode;
      if (j?.State.Health) out.health = j.State.Health.Status;
      return out;
    });
    const byHost = new Map(containers.map((c) => [c.host, c]));
    const hosts = base.hosts.map((h) => {
      const c = byHost.get(h.name);
      if (!c) return h;
      const container: NonNullable<(typeof h)['container']> = {
        name: c.name,
        image: c.image,
        state: c.state,
      };
      if (c.exitCode !== undefined && c.state !== 'running') container.exitCode = c.exitCode;
      if (c.health !== undefined) container.health = c.health;
      // the limits the engine holds, which `docker update` elsewhere may have changed
      return { ...h, limits: c.state === 'missing' ? h.limits : c.limits, container };
    });
    return { ...base, hosts, containers };
  }

  protected override teardownRun(): Promise<TeardownReport> {
    return dockerTeardown(this.runId, this.state);
  }
}
