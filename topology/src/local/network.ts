// The local backend: for machines without root or without Linux. A host is a set of processes
// bound to the host's own 127.K.c.d address (address-map.ts), so every host keeps the same ports
// (every adapter on :5000 and :6000). Nothing else is emulated: no links, no shaping, no delay,
// no CPU/memory limits, no isolation; startLocalNetwork says so once in a notice, and status()
// reports shaped:false, delayApplied:false, cgroups 'none'.
//
// The run lives in `<runDir>/state.json` (state.ts) and `<runDir>/topology.yaml` (the spec as run,
// with the 127.x addresses), so another process can attach to it, stop it, or clean it after a
// crash. A failure or SIGINT/SIGTERM during start ends what was started before rethrowing.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startForwarder } from '../forwarder.ts';
import {
  type EmulatedNetwork,
  type ExecOptions,
  type HostProcess,
  type IperfResult,
  type LinkChange,
  type Limits,
  type NetworkStatus,
  type PingReport,
  type RunResult,
  type TeardownReport,
  TeardownError,
  UnsupportedOperationError,
} from '../network.ts';
import { RUN_ID_PATTERN } from '../run-id.ts';
import { run } from '../sh.ts';
import { parseTopologyYaml, toYaml } from '../../../common/topology-spec/spec-yaml.ts';
import type { HostSpec, TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import { assertValid, effectiveShape, linksNeedingNetem } from '../../../common/topology-spec/validate.ts';
import { catchStartSignals, noteCleanupFailures } from '../start-signals.ts';
import { claimBlock, releaseBlock } from './address-claims.ts';
import {
  type AddressMap,
  busyAddresses,
  listeningAddresses,
  mapAddresses,
  mappedSpec,
  withoutPrefix,
} from './address-map.ts';
import { iperfBetween, pingAllPairs } from './measure.ts';
import { findExecutable, recordAlive, startTimeOf, terminateNow } from './processes.ts';
import {
  FORWARDER_HOST,
  type LocalProcessRecord,
  type LocalRunState,
  localStatePath,
  readLocalState,
  updateLocalState,
  writeLocalState,
} from './state.ts';
import { emptyReport, stopLocalRun, teardownLocal } from './teardown.ts';

export interface LocalStartOptions {
  /** names the run; [A-Za-z0-9_-], ≤ 48 characters */
  runId: string;
  /** where state.json, topology.yaml and logs/ go */
  runDir: string;
  /** forward hosts' published ports to 127.0.0.1 (default true) */
  publish?: boolean;
  /** progress of the steps ("addresses", "published ports", "up") */
  onProgress?: (step: string) => void;
  /** the notice and warnings; console.warn by default */
  log?: (message: string) => void;
}

export class InterruptedError extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`local network start interrupted by ${signal}; everything started so far was ended`);
    this.name = 'InterruptedError';
  }
}

const UNSUPPORTED_WHY =
  'the local backend runs processes on loopback without shaping or cgroups; use the netns backend (Linux, root)';

export async function startLocalNetwork(
  spec: TopologySpec,
  opts: LocalStartOptions,
): Promise<EmulatedNetwork> {
  const log = opts.log ?? ((m: string) => console.warn(m));
  const progress = opts.onProgress ?? (() => undefined);
  let state = recordStart(spec, opts);
  const update = (change: (s: LocalRunState) => void) => {
    state = updateLocalState(opts.runDir, state, change).state;
  };
  const warn = (w: string) => {
    update((s) => {
      s.warnings.push(w);
    });
    log(`warning: ${w}`);
  };

  const signals = catchStartSignals(progress, (sig) => new InterruptedError(sig));
  const { step, interruptible } = signals;
  // a claim taken but not yet recorded in the state is released on failure too
  const claim: { taken?: string } = {};
  try {
    step('addresses');
    const asRun = claimAddresses(spec, opts, claim, update, log, warn);
    const pairs = publishedPairs(asRun);
    if (pairs.length > 0 && opts.publish === false) {
      warn(`ports not published (publish: false): ${pairs.map(describePublish).join(', ')}`);
    } else if (pairs.length > 0) {
      step('published ports');
      await publishLocalPorts(pairs, opts, update, log, interruptible);
    }
    step('up');
    update((s) => {
      s.phase = 'up';
    });
    return new LocalNetwork(asRun, opts.runDir, state);
  } catch (err) {
    await undoFailedStart(opts, state, claim.taken, update, err);
    throw err;
  } finally {
    signals.release();
  }
}

/** Refuses a bad run id, an invalid spec or a run directory in use; writes the first state. */
function recordStart(spec: TopologySpec, opts: LocalStartOptions): LocalRunState {
  if (!RUN_ID_PATTERN.test(opts.runId)) {
    throw new Error(`run id ${JSON.stringify(opts.runId)}: allowed [A-Za-z0-9_-], 1–48 characters`);
  }
  assertValid(spec);
  const previous = readLocalState(opts.runDir);
  if (previous && previous.phase !== 'stopped' && previous.phase !== 'failed') {
    throw new Error(
      `run ${previous.runId} in ${opts.runDir} is ${previous.phase}; stop it or clean it ` +
        `(cleanLocalRun / mlfo-topo clean --run ${previous.runId}) before starting a run there`,
    );
  }
  const initial: LocalRunState = {
    version: 1,
    backend: 'local',
    runId: opts.runId,
    topology: spec.name,
    phase: 'starting',
    ownerPid: process.pid,
    startedAt: new Date().toISOString(),
    processes: [],
    published: [],
    warnings: [],
  };
  writeLocalState(opts.runDir, initial);
  return initial;
}

/** Claims a free 127.K block for the run's hosts; returns the spec as run (hosts at their 127.K addresses). */
function claimAddresses(
  spec: TopologySpec,
  opts: LocalStartOptions,
  claimed: { taken?: string },
  update: (change: (s: LocalRunState) => void) => void,
  log: (message: string) => void,
  warn: (warning: string) => void,
): TopologySpec {
  const listening = listeningAddresses();
  const { block, claim } = claimBlock({ runId: opts.runId, runDir: opts.runDir }, (k) => {
    const busy = busyAddresses(mapAddresses(spec, k), listening);
    return busy.length > 0 ? `${busy.join(', ')} already listening` : undefined;
  });
  claimed.taken = claim;
  const map = mapAddresses(spec, block);
  const asRun = mappedSpec(spec, map);
  update((s) => {
    s.addresses = {
      block,
      claim,
      hosts: map.hosts,
      specHosts: Object.fromEntries(spec.hosts.map((h) => [h.name, h.ip])),
      fallback: map.fallback,
    };
  });
  writeFileSync(join(opts.runDir, 'topology.yaml'), toYaml(asRun));
  log(notice(spec, map));
  const fallback = fallbackWarning(map);
  if (fallback !== undefined) warn(fallback);
  return asRun;
}

/** Starts the run's forwarder (recorded before it reports); a port it cannot take is a warning. */
async function publishLocalPorts(
  pairs: ReturnType<typeof publishedPairs>,
  opts: LocalStartOptions,
  update: (change: (s: LocalRunState) => void) => void,
  log: (message: string) => void,
  interruptible: <T>(p: Promise<T>) => Promise<T>,
): Promise<void> {
  const logFile = join(opts.runDir, 'logs', 'forwarder.log');
  mkdirSync(join(opts.runDir, 'logs'), { recursive: true });
  const { report } = await interruptible(
    startForwarder(pairs, {
      logFile,
      runId: opts.runId,
      onSpawn: (pid, argv) =>
        update((s) => {
          s.processes.push({
            host: FORWARDER_HOST,
            pid,
            pgid: pid,
            startTime: startTimeOf(pid),
            argv,
            logFile,
            detached: true,
          });
        }),
    }),
  );
  const hostOf = (port: number) => pairs.find((p) => p.listenPort === port)?.host ?? '?';
  const warnings = report.failed.map(
    (f) =>
      `${hostOf(f.pair.listenPort)}:${f.pair.targetPort} not published: 127.0.0.1:${f.pair.listenPort} ` +
      `is not free (${f.reason})`,
  );
  update((s) => {
    s.published = report.listening.map((p) => ({
      host: hostOf(p.listenPort),
      port: p.targetPort,
      hostPort: p.listenPort,
    }));
    s.warnings.push(...warnings);
  });
  for (const w of warnings) log(`warning: ${w}`);
}

/** Ends what a failed start made, releases its address claim, marks the run failed; notes problems on `err`. */
async function undoFailedStart(
  opts: LocalStartOptions,
  state: LocalRunState,
  claimed: string | undefined,
  update: (change: (s: LocalRunState) => void) => void,
  err: unknown,
): Promise<void> {
  const report = emptyReport(opts.runId);
  const ended = await teardownLocal(readLocalState(opts.runDir) ?? state, report);
  // A claim taken but not yet recorded in the state (releasing twice is harmless).
  if (ended && claimed !== undefined) {
    try {
      releaseBlock(claimed, opts.runId);
    } catch (releaseErr) {
      report.failures.push(`releasing ${claimed}: ${(releaseErr as Error).message}`);
    }
  }
  try {
    update((s) => {
      s.phase = 'failed';
    });
  } catch (writeErr) {
    report.failures.push(`marking the run failed: ${(writeErr as Error).message}`);
  }
  noteCleanupFailures(err, report.failures);
}

/** The one notice of a start: what the local backend does not emulate for this topology. */
function notice(spec: TopologySpec, map: AddressMap): string {
  const bandwidth = spec.links.filter(
    (l) =>
      effectiveShape(l, 'ab').bandwidthMbps !== undefined ||
      effectiveShape(l, 'ba').bandwidthMbps !== undefined,
  ).length;
  const delayed = new Set(linksNeedingNetem(spec).map((d) => d.link)).size;
  const limited = spec.hosts.filter((h) => h.cpus !== undefined || h.memoryMb !== undefined).length;
  return (
    `notice: local backend: the ${spec.hosts.length} hosts are processes on 127.${map.block}.x.y addresses of this ` +
    `machine. Not emulated: link bandwidth (${bandwidth} of ${spec.links.length} links ask for it), ` +
    `delay/jitter/loss (${delayed} links), CPU/memory limits (${limited} hosts), switches and segments ` +
    "(every host reaches every other and this machine's services). Use the netns backend (Linux, root) for those."
  );
}

function fallbackWarning(map: AddressMap): string | undefined {
  if (map.fallback.length === 0) return undefined;
  const list = map.fallback.map((h) => `${h} ${map.hosts[h]}`).join(', ');
  return (
    `${map.fallback.length} host(s) share their last two address octets with an earlier host, ` +
    `so they run at fallback addresses: ${list}`
  );
}

interface PublishPair {
  host: string;
  listenHost: string;
  listenPort: number;
  targetHost: string;
  targetPort: number;
}

function publishedPairs(spec: TopologySpec): PublishPair[] {
  return spec.hosts.flatMap((h) =>
    Object.entries(h.publish ?? {}).map(([port, hostPort]) => ({
      host: h.name,
      listenHost: '127.0.0.1',
      listenPort: hostPort,
      targetHost: withoutPrefix(h.ip),
      targetPort: Number(port),
    })),
  );
}

function describePublish(p: PublishPair): string {
  return `${p.host}:${p.targetPort} as 127.0.0.1:${p.listenPort}`;
}

/** A run started by another process (e.g. `mlfo-topo up`), from its run directory. */
export async function attachLocalNetwork(runDir: string): Promise<EmulatedNetwork> {
  const state = readLocalState(runDir);
  if (!state)
    throw new Error(`cannot attach: ${localStatePath(runDir)} not found (not a local run directory)`);
  if (state.phase !== 'up') {
    throw new Error(
      `cannot attach to run ${state.runId} in ${runDir}: its phase is '${state.phase}', only a run that is 'up' ` +
        `can be attached${state.phase === 'starting' || state.phase === 'stopping' ? `; if its starter is gone, end it with cleanLocalRun / mlfo-topo clean --run ${state.runId}` : ''}`,
    );
  }
  const specFile = join(runDir, 'topology.yaml');
  if (!existsSync(specFile)) throw new Error(`cannot attach to run ${state.runId}: ${specFile} not found`);
  // The spec as run: fallback addresses may leave a host outside its segment's subnet, which
  // validation would refuse; the spec was validated before it was mapped.
  const { spec } = parseTopologyYaml(readFileSync(specFile, 'utf8'), specFile, { validate: false });
  return new LocalNetwork(spec, runDir, state);
}

/** Processes that end with the process that started them (not detached); see the 'exit' hook. */
const boundToStarter = new Set<LocalProcessRecord>();
let exitHook = false;

class LocalNetwork implements EmulatedNetwork {
  readonly backend = 'local' as const;
  readonly netem = false;
  readonly runId: string;
  private stopping: Promise<TeardownReport> | undefined;
  private readonly hosts: Map<string, HostSpec>;

  constructor(
    readonly spec: TopologySpec,
    readonly runDir: string,
    private state: LocalRunState,
  ) {
    this.runId = state.runId;
    this.hosts = new Map(spec.hosts.map((h) => [h.name, h]));
  }

  private host(name: string): HostSpec {
    const h = this.hosts.get(name);
    if (!h) {
      throw new Error(
        `no host ${JSON.stringify(name)} in topology ${this.spec.name} (run ${this.runId}); hosts: ${[...this.hosts.keys()].join(', ')}`,
      );
    }
    return h;
  }

  private running(what: string): void {
    if (this.stopping) throw new Error(`${what}: network ${this.runId} is stopped`);
  }

  /** state.json as it is now (another attached process may have changed it). */
  private fresh(): LocalRunState {
    this.state = readLocalState(this.runDir) ?? this.state;
    return this.state;
  }

  ip(host: string): string {
    return withoutPrefix(this.host(host).ip);
  }

  exec(host: string, argv: readonly string[], opts: ExecOptions = {}): HostProcess {
    const h = this.host(host);
    const what = `exec on host ${host}`;
    this.running(what);
    const [file, ...args] = argv;
    if (file === undefined) throw new Error(`${what}: empty command`);
    if (!findExecutable(file)) {
      throw new Error(
        `${what}: ${file} is not an executable${file.includes('/') ? '' : ` on PATH (${process.env.PATH ?? ''})`}`,
      );
    }
    const phase = this.fresh().phase;
    if (phase !== 'up') throw new Error(`${what}: run ${this.runId} is ${phase}`);
    const ip = this.ip(host);
    const logFile = opts.logFile ?? join(this.runDir, 'logs', `${host}.log`);
    mkdirSync(join(logFile, '..'), { recursive: true });
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      // Its own session and process group always (stop() ends the group); `detached` only
      // decides whether it may outlive this process.
      child = spawn(file, args, {
        stdio: ['ignore', fd, fd],
        env: { ...process.env, ...h.env, ...opts.env, MLFO_HOST_NAME: host, MLFO_HOST_IP: ip },
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    child.on('error', () => undefined); // a failed spawn shows as pid undefined below
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${what}: could not start ${argv.join(' ')}`);
    const rec: LocalProcessRecord = {
      host,
      pid,
      pgid: pid,
      startTime: startTimeOf(pid),
      argv: [...argv],
      logFile,
      detached: opts.detached === true,
    };
    const { state, result: recorded } = updateLocalState(this.runDir, this.state, (s) => {
      if (s.phase !== 'up') return false;
      s.processes.push(rec);
      return true;
    });
    this.state = state;
    if (!recorded) {
      terminateNow([rec]);
      throw new Error(
        `${what}: run ${this.runId} became ${state.phase} while ${file} was starting; ended it`,
      );
    }
    if (rec.detached) {
      child.unref();
    } else {
      boundToStarter.add(rec);
      if (!exitHook) {
        exitHook = true;
        process.on('exit', () => terminateNow([...boundToStarter]));
      }
    }
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('exit', (code, signal) => {
        boundToStarter.delete(rec);
        resolve({ code, signal });
      });
    });
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
    const h = this.host(host);
    this.running(`run on host ${host}`);
    return run(argv, {
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      env: { ...process.env, ...h.env, MLFO_HOST_NAME: host, MLFO_HOST_IP: this.ip(host) },
    });
  }

  limit(host: string, _limits: Limits): void {
    throw new UnsupportedOperationError('local', `limit (CPU/memory of host ${host})`, UNSUPPORTED_WHY);
  }

  async setLink(a: string, b: string, _change: LinkChange): Promise<void> {
    throw new UnsupportedOperationError('local', `setLink (shaping of ${a}–${b})`, UNSUPPORTED_WHY);
  }

  pingAll(opts: { count?: number; timeoutMs?: number } = {}): Promise<PingReport> {
    this.running('pingAll');
    return pingAllPairs(
      this.spec.hosts.map((h) => ({ name: h.name, ip: withoutPrefix(h.ip) })),
      opts,
    );
  }

  iperf(a: string, b: string, opts: { seconds?: number; port?: number } = {}): Promise<IperfResult> {
    this.running(`iperf ${a} → ${b}`);
    return iperfBetween({ name: a, ip: this.ip(a) }, { name: b, ip: this.ip(b) }, opts);
  }

  status(): NetworkStatus {
    const st = this.fresh();
    const delayed = linksNeedingNetem(this.spec);
    return {
      runId: this.runId,
      backend: 'local',
      phase: st.phase,
      netem: false,
      cgroups: 'none',
      hosts: this.spec.hosts.map((h) => ({
        name: h.name,
        namespace: '',
        ip: h.ip,
        role: h.role,
        interfaces: [],
        limits: {},
        processes: st.processes
          .filter((p) => p.host === h.name)
          .map((p) => ({ pid: p.pid, alive: recordAlive(p), argv: p.argv })),
      })),
      switches: this.spec.switches.map((s) => ({ name: s.name, bridge: '' })),
      links: this.spec.links.map((l) => ({
        a: l.a,
        b: l.b,
        aInterface: '',
        bInterface: '',
        ab: effectiveShape(l, 'ab'),
        ba: effectiveShape(l, 'ba'),
        delayApplied: false,
        shaped: false,
      })),
      linksWithoutDelay: [...new Set(delayed.map((d) => d.link))].map((i) => {
        const l = this.spec.links[i];
        return l ? `${l.a}–${l.b}` : '';
      }),
      published: st.published,
      warnings: st.warnings,
    };
  }

  stop(): Promise<TeardownReport> {
    this.stopping ??= (async () => {
      const report = emptyReport(this.runId);
      const { state, stopped } = await stopLocalRun(this.runDir, this.state, report);
      for (const p of state.processes) boundToStarter.delete(p);
      if (stopped) this.state = stopped;
      if (report.failures.length > 0) throw new TeardownError(report);
      return report;
    })();
    return this.stopping;
  }
}
