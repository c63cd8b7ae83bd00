// The running emulated network, whatever backend runs it: `netns` (namespaces, bridges, veth,
// tc, cgroups; Linux as root) or `local` (processes on distinct 127.x addresses; no shaping, no
// limits). Everything above the backends (node programs, the CLI, the demo) uses only this
// interface. A backend that cannot do an operation throws UnsupportedOperationError naming it.
// `BackendModule` is what a backend's entry file exports; the table of backends by name is
// BACKENDS in backend.ts.

import type { LinkShape, TopologySpec } from '../../common/topology-spec/topology-spec.ts';

/** Options every backend's start takes (a backend ignores what it has no use for). */
export interface BackendStartOptions {
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

/** What a backend's entry file (`<backend>/backend.ts`) exports as `backend`. */
export interface BackendModule {
  /** spec → running network; a failure or signal during start removes what was made */
  start(spec: TopologySpec, opts: BackendStartOptions): Promise<EmulatedNetwork>;
  /** the running network of a run started by another process, from its run directory */
  attach(runDir: string): Promise<EmulatedNetwork>;
  /** removes what a crashed run left: `target` is its run directory or its run id under `runsDir` */
  clean(target: string, runsDir: string): Promise<TeardownReport>;
}

export interface Limits {
  /** CPU cores (0.5 = half a core); null removes the limit */
  cpus?: number | null;
  /** memory in MiB; null removes the limit */
  memoryMb?: number | null;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** stdout and stderr are appended here; default <runDir>/logs/<host>.log */
  logFile?: string;
  env?: Record<string, string>;
  /** place the process in the host's cgroup (default true; netns only) */
  cgroup?: boolean;
  /**
   * the process gets its own session (setsid) and outlives the process that started it
   * (`mlfo-topo up` returns while node programs go on); stop()/clean still end it
   */
  detached?: boolean;
}

export interface HostProcess {
  host: string;
  pid: number;
  argv: string[];
  logFile: string;
  /**
   * resolves when the process ends; for a detached process, waiting on it does not keep this Node
   * process alive (so a CLI that started it can exit)
   */
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

/** A port of a host made reachable on this machine (the seed published mo.1:8000 as :8001). */
export interface PublishedPort {
  host: string;
  port: number;
  /** 127.0.0.1:<hostPort> on this machine */
  hostPort: number;
}

export interface NetworkStatus {
  runId: string;
  /** a key of BACKENDS (backend.ts); a plain string here so this contract imports no backend */
  backend: string;
  phase: 'starting' | 'up' | 'stopping' | 'stopped' | 'failed';
  netem: boolean;
  /** 'v1' | 'v2' | 'none' */
  cgroups: string;
  hosts: {
    name: string;
    /** netns: the namespace; local: '' */
    namespace: string;
    /** with prefix, as used by this run (local: the 127.x address) */
    ip: string;
    role: string;
    interfaces: string[];
    limits: { cpus?: number; memoryMb?: number };
    processes: { pid: number; alive: boolean; argv: string[] }[];
    /** docker: the host's container as the engine sees it */
    container?: { name: string; image: string; state: string; exitCode?: number; health?: string };
  }[];
  switches: { name: string; bridge: string }[];
  links: {
    a: string;
    b: string;
    aInterface: string;
    bInterface: string;
    ab: LinkShape;
    ba: LinkShape;
    /** false when delay/jitter/loss were asked for but not applied (no netem, or local backend) */
    delayApplied: boolean;
    /** false on the local backend */
    shaped: boolean;
  }[];
  linksWithoutDelay: string[];
  published: PublishedPort[];
  warnings: string[];
}

export interface TeardownReport {
  runId: string;
  /** how many of each kind of resource were removed (processes, namespaces, …) */
  removed: Record<string, number>;
  /** every step that failed, with what was being removed and why */
  failures: string[];
  warnings: string[];
}

/** stop()/clean could not remove everything; the report lists every failure. */
export class TeardownError extends Error {
  constructor(readonly report: TeardownReport) {
    super(
      `teardown of run ${report.runId} left ${report.failures.length} problem(s):\n  ${report.failures.join('\n  ')}`,
    );
    this.name = 'TeardownError';
  }
}

export interface EmulatedNetwork {
  /** a key of BACKENDS (backend.ts) */
  readonly backend: string;
  readonly runId: string;
  readonly runDir: string;
  /** the spec as run: on the local backend, host addresses are the 127.x ones actually used */
  readonly spec: TopologySpec;
  /** whether delay/jitter/loss are applied */
  readonly netem: boolean;
  /** the address (no prefix) at which the host is reached from this machine and from other hosts */
  ip(host: string): string;
  /** starts a long-running process in the host, output appended to a log file */
  exec(host: string, argv: readonly string[], opts?: ExecOptions): HostProcess;
  /** runs a command in the host and waits for it; throws with its stderr on failure */
  run(host: string, argv: readonly string[], opts?: { timeoutMs?: number }): Promise<RunResult>;
  /** changes CPU/memory limits of a host while it runs (as `docker update --cpus`); recorded in the run state */
  limit(host: string, limits: Limits): void;
  /** changes the shaping of the link(s) between a and b while it runs; recorded in the run state */
  setLink(a: string, b: string, change: LinkChange): Promise<void>;
  pingAll(opts?: { count?: number; timeoutMs?: number }): Promise<PingReport>;
  iperf(a: string, b: string, opts?: { seconds?: number; port?: number }): Promise<IperfResult>;
  status(): NetworkStatus;
  /**
   * The command line that runs `argv` in the host attached to this terminal (`mlfo-topo exec`), for
   * a backend whose hosts are not entered with a namespace or environment alone (docker: `docker
   * exec`, with `-it` when stdin is a terminal); absent on others.
   */
  terminalCommand?(
    host: string,
    argv: readonly string[],
    env: Record<string, string>,
    tty: boolean,
  ): string[];
  /**
   * Where the project's node programs run in the hosts (nodes/ plans their argv with it); absent:
   * on this machine's files, from this checkout (netns, local).
   */
  readonly programSite?: ProgramSite;
  /**
   * Whether a host runs its own command (docker: a user's image, or `command:`): no node program
   * is started in it; an FL host among them is awaited on its REST port.
   */
  ownCommand?(host: string): boolean;
  /** undoes everything of the run, in reverse order, past individual failures; safe to call twice; throws TeardownError listing every failure */
  stop(): Promise<TeardownReport>;
}

/** Where the project's node programs find the project, node, tools and files inside a host. */
export interface ProgramSite {
  /** the project's root in a host (docker: the image's /app) */
  root: string;
  /** the node binary in a host */
  node: string;
  /**
   * redis-server, iperf3, prometheus: 'machine' = looked up on this machine's PATH; 'host' = by
   * name in the host's PATH (the project image has them)
   */
  tools: 'machine' | 'host';
  /** directories of this machine a host sees at the same path (docker: the run directory) */
  shared: readonly string[];
}

export class UnsupportedOperationError extends Error {
  override name = 'UnsupportedOperationError';
  constructor(backend: string, operation: string, why: string) {
    super(`${operation} is not available on the ${backend} backend: ${why}`);
  }
}
