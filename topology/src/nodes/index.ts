// Node programs by role inside the hosts of a running emulated network (any backend): the run's
// Redis and the cloud MLFO, the edge MLFOs, a flower-adapter per FL host, the traffic sink and
// source (iperf3 when installed, and the traffic agent), and Prometheus when installed. Stages
// start in that order and every program is ready (probed over HTTP, TCP or a Redis PING) before
// the next stage starts. A program that exits, does not get ready in time, or an abort stops
// everything this call started before the error (naming host, program, what was awaited and the
// tail of the host's log) is thrown; the network itself stays up, the caller stops it.
//
// The run's Redis listens on a unix socket only, in the run directory: the filesystem is shared
// by every network namespace and by the local backend's processes, and a docker run's containers
// see the run directory at the same path (ProgramSite.shared), so one path reaches it from every
// host and from this machine's readiness probe. Where a network's programs run from an image
// (ProgramSite), the plan uses its node and root, tools by name, and the catalog copied into the
// run directory; a host that runs its own command is only awaited (FL hosts) or left alone.
// What was started is also recorded in <runDir>/node-programs.json, so another process (the
// `mlfo-topo status` of a run started by `up`) can check it with nodeProgramsHealth.

import { setMaxListeners } from 'node:events';
import { pidExists, procStat } from '../proc.ts';
import { runTempDir } from '../run-id.ts';
import {
  accessSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join, relative, resolve, sep } from 'node:path';
import { prometheusConfig } from '../monitoring/prometheus-config.ts';
import type { EmulatedNetwork, HostProcess, ProgramSite } from '../network.ts';
import { mapLimit } from '../../../common/map-limit.ts';
import { toYaml } from '../../../common/topology-spec/spec-yaml.ts';
import type { HostRole, HostSpec } from '../../../common/topology-spec/topology-spec.ts';
import {
  type PlannedProgram,
  type ProgramName,
  planPrograms,
  REPO_ROOT,
  STAGES,
  type Stage,
} from './programs.ts';
import { describeProbe, NotReadyError, type Probe, probeOnce, waitReady } from './readiness.ts';

export {
  AGENT_PORTS,
  IPERF3_PORT,
  mlfoPrefix,
  planPrograms,
  type PlannedProgram,
  type ProgramName,
} from './programs.ts';
export { describeProbe, type Probe, probeOnce } from './readiness.ts';

export interface NodeProgramOptions {
  /** only hosts of these roles start their programs (default: every role) */
  roles?: readonly HostRole[];
  /** an existing Redis for the MLFOs (URL or socket path); default: a redis-server for the run */
  redisUrl?: string;
  /** operand catalog of the MLFOs; default <repo>/intents/catalog.yaml */
  catalog?: string;
  /** data directory of the flower-adapters; default <repo>/data */
  dataDir?: string;
  /** programs outlive this process (`mlfo-topo up` returns while they go on) */
  detached?: boolean;
  /** programs of one stage started at once (default 4) */
  concurrency?: number;
  /** per program (default 120 000) */
  readyTimeoutMs?: number;
  /** stop(): SIGTERM, then SIGKILL after this long (default 5000) */
  stopGraceMs?: number;
  /** use iperf3 for the bulk flow when installed (default true); false: the traffic agent's own generator */
  iperf3?: boolean;
  /** extra flags for every MLFO, e.g. ['--poll-ms', '200'] */
  mlfoArgs?: readonly string[];
  /** extra flags for every flower-adapter */
  adapterArgs?: readonly string[];
  /** Prometheus's scrape interval in seconds, 1–3600 (default 5, the seed's) */
  scrapeIntervalS?: number;
  /** aborts the start the same way as a failure (everything started is stopped) */
  signal?: AbortSignal;
  /** "adapters 12/50 ready", "mlfo on cloud.0 ready", … */
  onProgress?: (message: string) => void;
  /** notices (a program skipped because it is not installed); console.warn by default */
  log?: (message: string) => void;
}

export interface NodeProgram {
  host: string;
  role: HostRole;
  program: ProgramName;
  pid: number;
  url?: string;
}

export interface NodeEndpoints {
  /** the (first) edge MLFO's intent API, http://<ip>:8000 */
  edge?: string;
  /** the (first) cloud MLFO's intent API */
  cloud?: string;
  prometheus?: string;
  /** what the MLFOs were given: the run's Redis socket path, or opts.redisUrl */
  redis?: string;
}

export interface ProgramHealth {
  host: string;
  program: ProgramName;
  ok: boolean;
  detail: string;
}

export interface StartedNodePrograms {
  readonly programs: NodeProgram[];
  readonly endpoints: NodeEndpoints;
  /** every program: alive and answering its readiness probe */
  health(): Promise<ProgramHealth[]>;
  /** SIGTERM, SIGKILL after the grace period, in reverse start order; safe to call twice */
  stop(): Promise<void>;
}

/** A node program did not become ready; everything the start had launched was stopped. */
export class NodeProgramError extends Error {
  override name = 'NodeProgramError';
  constructor(
    readonly host: string,
    readonly program: ProgramName,
    readonly awaited: string,
    readonly logTail: string[],
    message: string,
  ) {
    super(message);
  }
}

/** The start was aborted (opts.signal); everything it had launched was stopped. */
export class NodeProgramsAbortedError extends Error {
  override name = 'NodeProgramsAbortedError';
}

/** What node-programs.json in the run directory records, for health checks from another process. */
export interface NodeProgramRecord extends NodeProgram {
  probe: Probe;
  argv: string[];
  /** /proc start time, so a reused pid is not taken for the program */
  startTime: string;
}

export const NODE_PROGRAMS_FILE = 'node-programs.json';
const SUN_PATH_MAX = 107;
const LOG_TAIL_LINES = 20;

interface Started {
  plan: PlannedProgram;
  proc: HostProcess;
  ended?: { code: number | null; signal: NodeJS.Signals | null };
}

/** The first executable `name` on PATH, or undefined. */
export function findExecutable(name: string, path = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The last `lines` lines of a log file ([] when it does not exist). */
export function logTail(file: string, lines = LOG_TAIL_LINES): string[] {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const all = buf.toString('utf8').split('\n');
    if (all.at(-1) === '') all.pop();
    return all.slice(-lines);
  } finally {
    closeSync(fd);
  }
}

/** Whether a process has ended (gone, or a zombie not yet reaped). */
function processGone(pid: number): boolean {
  if (process.platform !== 'linux') return !pidExists(pid);
  return procStat(pid)?.alive !== true;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitGone(s: Started, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (s.ended !== undefined) return true;
    if (processGone(s.proc.pid)) {
      // a child of this process is reaped when its exit is reported; give that a moment
      await Promise.race([s.proc.exited, sleep(1000)]);
      return true;
    }
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

/** SIGTERM to all, SIGKILL to those still alive after graceMs. */
async function terminate(list: readonly Started[], graceMs: number): Promise<void> {
  for (const s of list) if (s.ended === undefined) s.proc.kill('SIGTERM');
  await Promise.all(
    list.map(async (s) => {
      if (await waitGone(s, graceMs)) return;
      s.proc.kill('SIGKILL');
      await waitGone(s, 3000);
    }),
  );
}

/**
 * The Redis socket: <runDir>/redis.sock, or <tmpdir>/mlfo-<runId>/redis.sock (a directory of this
 * user only, removed at stop) when the run directory makes the path too long for a unix socket.
 */
function redisSocket(runDir: string, runId: string): { socket: string; tmpDir?: string } {
  const inRun = join(runDir, 'redis.sock');
  if (Buffer.byteLength(inRun) <= SUN_PATH_MAX) return { socket: inRun };
  const tmpDir = runTempDir(runId);
  const socket = join(tmpDir, 'redis.sock');
  if (Buffer.byteLength(socket) > SUN_PATH_MAX) {
    throw new Error(
      `the Redis unix socket path is longer than ${SUN_PATH_MAX} bytes both in the run directory (${inRun}) and in the temp dir (${socket}); allowed: a shorter run directory or TMPDIR`,
    );
  }
  try {
    mkdirSync(tmpDir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = lstatSync(tmpDir);
  if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0) {
    throw new Error(
      `${tmpDir} (for the Redis socket of run ${runId}) exists but is not a private directory of this user; remove it or use a shorter run directory`,
    );
  }
  return { socket, tmpDir };
}

/**
 * A directory of this machine as node programs in the hosts see it: itself where they share this
 * machine's files; in an image's hosts, the image's copy of a directory of this project, or a
 * shared directory (the run directory) at the same path. Anything else is refused.
 */
function visiblePath(site: ProgramSite | undefined, path: string, what: string): string {
  if (site === undefined) return path;
  const within = (dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
  if (site.shared.some(within)) return path;
  if (within(resolve(REPO_ROOT))) return join(site.root, relative(REPO_ROOT, path));
  throw new Error(
    `${what} ${path} is not visible in the hosts, which see only ${site.shared.join(', ')} of this machine; allowed: a directory under the run directory, or one of this project (the image's copy under ${site.root})`,
  );
}

/** Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22), '' when unknown. */
const startTime = (pid: number): string => procStat(pid)?.startTime ?? '';

export async function startNodePrograms(
  net: EmulatedNetwork,
  opts: NodeProgramOptions = {},
): Promise<StartedNodePrograms> {
  const log = opts.log ?? ((m: string) => console.warn(m));
  const runDir = resolve(net.runDir);
  const wanted = (r: HostRole) => opts.roles === undefined || opts.roles.includes(r);
  const hosts = net.spec.hosts.filter((h) => wanted(h.role) && net.ownCommand?.(h.name) !== true);
  const graceMs = opts.stopGraceMs ?? 5000;
  if (opts.signal?.aborted)
    throw new NodeProgramsAbortedError('start of node programs aborted before it began');

  const tools = checkPrerequisites(hosts, opts, log, net.programSite);
  const dataDir = visiblePath(
    net.programSite,
    resolve(opts.dataDir ?? join(REPO_ROOT, 'data')),
    "the flower-adapters' data directory",
  );
  mkdirSync(join(runDir, 'logs'), { recursive: true });
  if (net.programSite !== undefined && tools.mlfoHosts.length > 0) {
    // the hosts see only the run directory: the catalog goes there, as the user's file is now
    const copy = join(runDir, 'catalog.yaml');
    copyFileSync(tools.catalog, copy);
    tools.catalog = copy;
  }
  const redis = await prepareRedis(net, runDir, tools.redisBinary);
  let plan: PlannedProgram[];
  try {
    plan = planAndConfigure(net, runDir, opts, tools, redis.redis, dataDir);
  } catch (err) {
    redis.removeSocketDir();
    throw err;
  }

  const starter = new ProgramStarter(net, opts);
  try {
    for (const stage of STAGES)
      await starter.startStage(
        stage,
        plan.filter((p) => p.stage === stage),
      );
  } catch (err) {
    await starter.abortAll(Math.min(graceMs, 3000));
    redis.removeSocketDir();
    const note = `the ${starter.started.length} program(s) this start had launched were stopped (the network stays up)`;
    if (opts.signal?.aborted) throw new NodeProgramsAbortedError(`start of node programs aborted; ${note}`);
    if (err instanceof Error) err.message += `\n${note}`;
    throw err;
  } finally {
    starter.release();
  }
  const { started } = starter;
  const redisEndpoint = redis.redis?.socket ?? (tools.mlfoHosts.length > 0 ? opts.redisUrl : undefined);
  const { programs, endpoints } = recordPrograms(runDir, started, plan, redisEndpoint);

  let stopping: Promise<void> | undefined;
  return {
    programs,
    endpoints,
    health: () =>
      Promise.all(
        started.map(async (s): Promise<ProgramHealth> => {
          const base = { host: s.plan.host, program: s.plan.program };
          if (s.ended !== undefined || processGone(s.proc.pid)) {
            const e = s.ended;
            const how =
              e === undefined
                ? 'ended'
                : e.signal
                  ? `was killed by ${e.signal}`
                  : `exited with code ${e.code}`;
            return { ...base, ok: false, detail: `process ${s.proc.pid} ${how}` };
          }
          return { ...base, ...(await probeOnce(s.plan.probe)) };
        }),
      ),
    stop: () => {
      stopping ??= (async () => {
        for (const stage of [...STAGES].reverse()) {
          await terminate(
            started.filter((s) => s.plan.stage === stage),
            graceMs,
          );
        }
        redis.removeSocketDir();
      })();
      return stopping;
    },
  };
}

interface Prerequisites {
  catalog: string;
  mlfoHosts: HostSpec[];
  /** redis-server, when the MLFOs get a Redis of the run */
  redisBinary: string | undefined;
  iperf3: string | undefined;
  prometheus: string | undefined;
}

/** Checks that need no process come first, so a refused start leaves nothing behind. */
function checkPrerequisites(
  hosts: readonly HostSpec[],
  opts: NodeProgramOptions,
  log: (message: string) => void,
  site: ProgramSite | undefined,
): Prerequisites {
  const catalog = resolve(opts.catalog ?? join(REPO_ROOT, 'intents', 'catalog.yaml'));
  const mlfoHosts = hosts.filter((h) => h.role === 'mlfo-cloud' || h.role === 'mlfo-edge');
  if (mlfoHosts.length > 0 && !existsSync(catalog)) {
    throw new Error(
      `operand catalog ${catalog} does not exist (MLFOs on ${mlfoHosts.map((h) => h.name).join(', ')}); allowed: an existing catalog file (opts.catalog)`,
    );
  }
  if (site?.tools === 'host') {
    // the image has them (docker/images.ts BASE_PACKAGES), found by name on the host's PATH
    return {
      catalog,
      mlfoHosts,
      redisBinary: mlfoHosts.length > 0 && opts.redisUrl === undefined ? 'redis-server' : undefined,
      iperf3: opts.iperf3 === false ? undefined : 'iperf3',
      prometheus: 'prometheus',
    };
  }
  let redisBinary: string | undefined;
  if (mlfoHosts.length > 0 && opts.redisUrl === undefined) {
    redisBinary = findExecutable('redis-server');
    if (redisBinary === undefined) {
      throw new Error(
        `redis-server is not on PATH; the MLFOs on ${mlfoHosts.map((h) => h.name).join(', ')} need a Redis. ` +
          'Install the Debian package redis-server (apt-get install redis-server), or give an existing Redis (redisUrl / --redis).',
      );
    }
  }
  const iperf3 = opts.iperf3 === false ? undefined : findExecutable('iperf3');
  const prometheus = findExecutable('prometheus');
  for (const h of hosts.filter((x) => x.role === 'prometheus')) {
    if (prometheus === undefined) {
      log(
        `notice: prometheus is not on PATH; host ${h.name} (prometheus) runs no Prometheus (apt-get install --no-install-recommends prometheus to have one)`,
      );
    }
  }
  return { catalog, mlfoHosts, redisBinary, iperf3, prometheus };
}

/** The run's Redis socket (refused when a Redis already answers there) and its data directory. */
async function prepareRedis(
  net: EmulatedNetwork,
  runDir: string,
  redisBinary: string | undefined,
): Promise<{ redis?: { socket: string; binary: string }; removeSocketDir: () => void }> {
  if (redisBinary === undefined) return { removeSocketDir: () => undefined };
  const s = redisSocket(runDir, net.runId);
  if (s.tmpDir !== undefined && net.programSite !== undefined) {
    rmSync(s.tmpDir, { recursive: true, force: true });
    throw new Error(
      `the Redis unix socket ${join(runDir, 'redis.sock')} is longer than ${SUN_PATH_MAX} bytes, and the hosts of a ${net.backend} run see only the run directory; allowed: a shorter run directory (--runs-dir)`,
    );
  }
  if (existsSync(s.socket) && (await probeOnce({ kind: 'redis', socket: s.socket }, 1000)).ok) {
    throw new Error(
      `a Redis already answers on ${s.socket}: node programs of run ${net.runId} seem to be running; stop them first`,
    );
  }
  mkdirSync(join(runDir, 'redis'), { recursive: true });
  const socketTmpDir = s.tmpDir;
  return {
    redis: { socket: s.socket, binary: redisBinary },
    removeSocketDir: () => {
      if (socketTmpDir !== undefined) rmSync(socketTmpDir, { recursive: true, force: true });
    },
  };
}

/** The programs to start, and the files they read (the MLFOs' inventory, prometheus.yml). */
function planAndConfigure(
  net: EmulatedNetwork,
  runDir: string,
  opts: NodeProgramOptions,
  tools: Prerequisites,
  redis: { socket: string; binary: string } | undefined,
  dataDir: string,
): PlannedProgram[] {
  const site = net.programSite;
  const { catalog, iperf3, prometheus } = tools;
  const plan = planPrograms({
    spec: net.spec,
    ip: (h) => net.ip(h),
    runId: net.runId,
    runDir,
    ...(site !== undefined ? { site: { root: site.root, node: site.node } } : {}),
    ...(net.ownCommand !== undefined ? { ownCommand: (h: string) => net.ownCommand?.(h) === true } : {}),
    ...(opts.roles !== undefined ? { roles: opts.roles } : {}),
    ...(opts.redisUrl !== undefined ? { redisUrl: opts.redisUrl } : {}),
    ...(redis !== undefined ? { redis } : {}),
    catalog,
    dataDir,
    ...(iperf3 !== undefined ? { iperf3 } : {}),
    ...(prometheus !== undefined ? { prometheus } : {}),
    ...(opts.mlfoArgs !== undefined ? { mlfoArgs: opts.mlfoArgs } : {}),
    ...(opts.adapterArgs !== undefined ? { adapterArgs: opts.adapterArgs } : {}),
  });
  if (tools.mlfoHosts.length > 0 && !existsSync(join(runDir, 'topology.yaml'))) {
    writeFileSync(join(runDir, 'topology.yaml'), toYaml(net.spec));
  }
  if (plan.some((p) => p.program === 'prometheus')) {
    writeFileSync(
      join(runDir, 'prometheus.yml'),
      prometheusConfig(net.spec, { scrapeIntervalS: opts.scrapeIntervalS }),
    );
  }
  return plan;
}

/** Starts programs stage by stage, each awaited until ready; the first failure aborts the rest. */
class ProgramStarter {
  readonly started: Started[] = [];
  private readonly ac = new AbortController();
  private readonly onAbort = () => this.ac.abort();
  private readonly concurrency: number;
  private readonly readyTimeoutMs: number;
  private readonly progress: (message: string) => void;

  constructor(
    private readonly net: EmulatedNetwork,
    private readonly opts: NodeProgramOptions,
  ) {
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
    this.progress = opts.onProgress ?? (() => undefined);
    // every program being awaited listens on this signal (readiness polls, waits between them)
    setMaxListeners(0, this.ac.signal);
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  async startStage(stage: Stage, mine: readonly PlannedProgram[]): Promise<void> {
    if (mine.length === 0) return;
    let ready = 0;
    // the first failure aborts the stage's other waits; it is the error reported
    let first: unknown;
    try {
      await mapLimit(
        mine,
        this.concurrency,
        async (p) => {
          try {
            await this.startOne(p);
          } catch (err) {
            first ??= err;
            this.ac.abort();
            throw err;
          }
          ready++;
          this.progress(
            stage === 'adapters'
              ? `adapters ${ready}/${mine.length} ready`
              : `${p.program} on ${p.host} (${p.role}) ready${p.url !== undefined ? `: ${p.url}` : ''}`,
          );
        },
        { onFailure: 'stop' },
      );
    } catch (err) {
      throw first ?? err;
    }
  }

  private async startOne(p: PlannedProgram): Promise<void> {
    if (this.ac.signal.aborted)
      throw new NotReadyError('aborted', `aborted before ${p.program} on ${p.host} started`);
    if (p.own === true) {
      await this.awaitOwn(p);
      return;
    }
    let proc: HostProcess;
    try {
      proc = this.net.exec(
        p.host,
        p.argv,
        this.opts.detached !== undefined ? { detached: this.opts.detached } : {},
      );
    } catch (err) {
      throw new NodeProgramError(
        p.host,
        p.program,
        describeProbe(p.probe),
        [],
        `${p.program} on host ${p.host} (${p.role}) could not be started: ${(err as Error).message}`,
      );
    }
    const s: Started = { plan: p, proc };
    this.started.push(s);
    void proc.exited.then((e) => {
      s.ended = e;
    });
    try {
      await waitReady(p.probe, {
        timeoutMs: this.readyTimeoutMs,
        exited: proc.exited,
        signal: this.ac.signal,
      });
    } catch (err) {
      if (!(err instanceof NotReadyError) || err.reason === 'aborted') throw err;
      const tail = logTail(proc.logFile);
      throw new NodeProgramError(
        p.host,
        p.program,
        describeProbe(p.probe),
        tail,
        `${p.program} on host ${p.host} (${p.role}, pid ${proc.pid}) did not become ready: ${err.message}\n` +
          `last ${tail.length} lines of ${proc.logFile}:\n${tail.map((l) => `  | ${l}`).join('\n')}`,
      );
    }
  }

  /** A host's own command serves this program: its probe is awaited, nothing is started or stopped. */
  private async awaitOwn(p: PlannedProgram): Promise<void> {
    try {
      await waitReady(p.probe, {
        timeoutMs: this.readyTimeoutMs,
        exited: new Promise(() => undefined),
        signal: this.ac.signal,
      });
    } catch (err) {
      if (!(err instanceof NotReadyError) || err.reason === 'aborted') throw err;
      throw new NodeProgramError(
        p.host,
        p.program,
        describeProbe(p.probe),
        [],
        `${p.program} of host ${p.host} (${p.role}; the host runs its own command) did not answer: ${err.message}; ` +
          `its output: \`docker logs mlfo-${this.net.runId}.${p.host}\``,
      );
    }
  }

  /** After a failure: the waits still running give up, everything started is stopped. */
  async abortAll(graceMs: number): Promise<void> {
    this.ac.abort();
    await terminate(this.started, graceMs);
  }

  release(): void {
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** The programs and endpoints of a start, also written to node-programs.json for other processes. */
function recordPrograms(
  runDir: string,
  started: readonly Started[],
  plan: readonly PlannedProgram[],
  redisEndpoint: string | undefined,
): { programs: NodeProgram[]; endpoints: NodeEndpoints } {
  const programs: NodeProgram[] = started.map(({ plan: p, proc }) => ({
    host: p.host,
    role: p.role,
    program: p.program,
    pid: proc.pid,
    ...(p.url !== undefined ? { url: p.url } : {}),
  }));
  const firstUrl = (pred: (p: PlannedProgram) => boolean) => plan.find(pred)?.url;
  const endpoints: NodeEndpoints = {};
  const edge = firstUrl((p) => p.role === 'mlfo-edge' && p.program === 'mlfo');
  const cloud = firstUrl((p) => p.role === 'mlfo-cloud' && p.program === 'mlfo');
  const prom = firstUrl((p) => p.program === 'prometheus');
  if (edge !== undefined) endpoints.edge = edge;
  if (cloud !== undefined) endpoints.cloud = cloud;
  if (prom !== undefined) endpoints.prometheus = prom;
  if (redisEndpoint !== undefined) endpoints.redis = redisEndpoint;
  const records: NodeProgramRecord[] = started.map(({ plan: p }, i) => ({
    ...(programs[i] as NodeProgram),
    probe: p.probe,
    argv: p.argv,
    startTime: startTime(programs[i]?.pid ?? 0),
  }));
  writeFileSync(
    join(runDir, NODE_PROGRAMS_FILE),
    `${JSON.stringify({ programs: records, endpoints }, null, 2)}\n`,
  );
  return { programs, endpoints };
}

/** Health of the node programs recorded in a run directory (by a start in another process). */
export async function nodeProgramsHealth(runDir: string): Promise<ProgramHealth[]> {
  const file = join(runDir, NODE_PROGRAMS_FILE);
  if (!existsSync(file)) return [];
  const { programs } = JSON.parse(readFileSync(file, 'utf8')) as { programs: NodeProgramRecord[] };
  return Promise.all(
    programs.map(async (p): Promise<ProgramHealth> => {
      const base = { host: p.host, program: p.program };
      if (processGone(p.pid) || startTime(p.pid) !== p.startTime) {
        return { ...base, ok: false, detail: `process ${p.pid} is not running` };
      }
      return { ...base, ...(await probeOnce(p.probe)) };
    }),
  );
}
