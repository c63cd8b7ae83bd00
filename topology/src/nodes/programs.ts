// What runs in each host, by role, as pure data: the argv of every node program, the probe that
// says it is ready, and the stage it starts in. Nothing is started here (index.ts does that), so
// the plan of any topology can be checked without root or running processes.
//
// Node programs run as `<node> <absolute script>`: processes in a host inherit the cwd but not
// npm's PATH. Node and the project's root are this machine's (netns, local) or the image's
// (docker: `node`, /app), as the network's ProgramSite says; a host that runs its own command
// (docker: a user's image or `command:`) gets no program, and an FL host among them is awaited on
// its REST contract's GET /status. Ports follow monitoring/prometheus-config.ts (a host's env may move the
// flower-adapter or MLFO port; the plan uses that port in flags, probes and the edge's --parent).

import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PORTS } from '../monitoring/prometheus-config.ts';
import { BACKENDS, type BackendName } from '../backend.ts';
import type { HostRole, HostSpec, TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import type { Probe } from './readiness.ts';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export const FL_PORT = 6000;
export const MOMO_PORT = 9000;
export const IPERF3_PORT = 5201;
/** traffic agent: metrics, and the sink's app servers (echo for latency probes, discard for bulk) */
export const AGENT_PORTS = { metrics: PORTS.trafficAgent, echo: 9103, discard: 9104 } as const;

export type ProgramName =
  | 'redis-server'
  | 'mlfo'
  | 'flower-adapter'
  | 'iperf3'
  | 'traffic-agent'
  | 'prometheus';

/** Start order; every program of a stage is ready before the next stage starts. */
export const STAGES = [
  'redis',
  'mlfo-cloud',
  'mlfo-edge',
  'adapters',
  'traffic-sink',
  'traffic-source',
  'prometheus',
] as const;
export type Stage = (typeof STAGES)[number];

export interface PlannedProgram {
  stage: Stage;
  host: string;
  role: HostRole;
  program: ProgramName;
  /** empty when `own`: the host's own command serves it, nothing is started */
  argv: string[];
  probe: Probe;
  own?: true;
  /** the service's address for users: http://ip:port, or the Redis socket */
  url?: string;
}

export interface PlanContext {
  spec: TopologySpec;
  /** the address at which a host is reached (EmulatedNetwork.ip) */
  ip(host: string): string;
  runId: string;
  /** absolute */
  runDir: string;
  /** the project's root and node in the hosts (default: this checkout, this machine's node) */
  site?: ProgramPlace;
  /** hosts that run their own command: nothing starts there; their FL REST port is awaited */
  ownCommand?(host: string): boolean;
  /** which roles start (all when absent) */
  roles?: readonly HostRole[];
  /** an existing Redis: no redis-server is started */
  redisUrl?: string;
  /** the run's own Redis: its socket path and the redis-server binary (when redisUrl is absent) */
  redis?: { socket: string; binary: string };
  /** absolute operand catalog file */
  catalog: string;
  /** absolute data directory of the flower-adapters */
  dataDir: string;
  /** iperf3 binary when installed and wanted; the traffic agent's built-in generator otherwise */
  iperf3?: string;
  /** prometheus binary when installed */
  prometheus?: string;
  /** extra flags for every MLFO (e.g. --poll-ms 200) */
  mlfoArgs?: readonly string[];
  /** extra flags for every flower-adapter */
  adapterArgs?: readonly string[];
}

/** Where the project is and which node runs it, in a host. */
export interface ProgramPlace {
  root: string;
  node: string;
}
/** this machine: this checkout and this node */
export const HERE: ProgramPlace = { root: REPO_ROOT, node: process.execPath };

/** argv that runs a TypeScript program of this repository through bin/launch.mjs (dist when fresh, else tsx). */
export function launchArgv(src: string, args: readonly string[], place: ProgramPlace = HERE): string[] {
  const launch = pathToFileURL(join(place.root, 'bin', 'launch.mjs')).href;
  const script =
    `const { load } = await import(${JSON.stringify(launch)}); ` +
    `const { main } = await load(${JSON.stringify(src)}); await main(process.argv.slice(1));`;
  return [place.node, '--input-type=module', '-e', script, '--', ...args];
}

/**
 * Why the MLFOs of a network cannot use this Redis URL, or undefined: where a host has its own
 * loopback (netns, docker), a URL on this machine's loopback names the host's, where no Redis
 * runs; where hosts see only the run directory of this machine's files (docker), a unix socket
 * path of this machine is not there.
 */
export function redisUrlProblem(url: string, backend: BackendName): string | undefined {
  const { hostsSee } = BACKENDS[backend];
  const socket = url.startsWith('/') || url.startsWith('unix:');
  if (!hostsSee.loopback && /^rediss?:\/\/([^@/]*@)?(127\.|localhost|\[::1\])/.test(url)) {
    return (
      `${url} is on this machine's loopback, which the MLFOs in their hosts (${backend}) cannot reach; ` +
      `allowed: ${hostsSee.files === 'all' ? 'a unix socket path, ' : ''}an address the hosts reach, or none (a Redis of the run)`
    );
  }
  if (hostsSee.files !== 'all' && socket) {
    return (
      `${url} is a unix socket of this machine, which the MLFOs in their ${backend} hosts do not see (they see only the run directory); ` +
      'allowed: an address the hosts reach, or none (a Redis of the run)'
    );
  }
  return undefined;
}

/** Redis key prefix of a host's MLFO: mlfo-<runId>-<host>, shortened with a hash past 64 characters. */
export function mlfoPrefix(runId: string, host: string): string {
  const full = `mlfo-${runId}-${host}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  if (full.length <= 64) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, 55)}-${hash}`;
}

function port(host: HostSpec, env: string, fallback: number): number {
  const text = host.env?.[env];
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : fallback;
}

/** What every stage's planner sees: the context, plus what is worked out once for all stages. */
interface PlanEnv extends PlanContext {
  wanted(role: HostRole): boolean;
  byName: Map<string, HostSpec>;
  place: ProgramPlace;
  /** a host that runs its own command */
  own(host: string): boolean;
  /** cloud and edge hosts whose MLFOs start */
  mlfoHosts: HostSpec[];
  /** the host of the run's redis-server, when one is started */
  redisHost: HostSpec | undefined;
  /** what the MLFOs are given: opts.redisUrl or the run's socket */
  redisUrl: string | undefined;
}

/**
 * The planner of each stage. A new node program goes here: a planner for its stage (a new stage
 * also goes into STAGES, at its place in the start order).
 */
const PLANNERS: Record<Stage, (env: PlanEnv) => PlannedProgram[]> = {
  redis: planRedis,
  'mlfo-cloud': (env) => planMlfos(env, 'mlfo-cloud'),
  'mlfo-edge': (env) => planMlfos(env, 'mlfo-edge'),
  adapters: planAdapters,
  'traffic-sink': planTrafficSinks,
  'traffic-source': planTrafficSources,
  prometheus: planPrometheus,
};

export function planPrograms(ctx: PlanContext): PlannedProgram[] {
  const { spec } = ctx;
  const wanted = (r: HostRole) => ctx.roles === undefined || ctx.roles.includes(r);
  const own = (host: string) => ctx.ownCommand?.(host) === true;
  const mlfoHosts = spec.hosts.filter(
    (h) => (h.role === 'mlfo-cloud' || h.role === 'mlfo-edge') && wanted(h.role) && !own(h.name),
  );
  const redisHost = mlfoHosts.find((h) => h.role === 'mlfo-cloud') ?? mlfoHosts[0];
  let redisUrl = ctx.redisUrl;
  let ownRedis: HostSpec | undefined;
  if (redisHost !== undefined && redisUrl === undefined) {
    if (ctx.redis === undefined)
      throw new Error('planPrograms: MLFOs start but neither redisUrl nor redis is given');
    redisUrl = ctx.redis.socket;
    ownRedis = redisHost;
  }
  const env: PlanEnv = {
    ...ctx,
    ip: (h) => ctx.ip(h),
    wanted,
    byName: new Map(spec.hosts.map((h) => [h.name, h])),
    place: ctx.site ?? HERE,
    own,
    mlfoHosts,
    redisHost: ownRedis,
    redisUrl,
  };
  return STAGES.flatMap((stage) => PLANNERS[stage](env));
}

function planRedis({ redisHost, redis, runDir }: PlanEnv): PlannedProgram[] {
  if (redisHost === undefined || redis === undefined) return [];
  return [
    {
      stage: 'redis',
      host: redisHost.name,
      role: redisHost.role,
      program: 'redis-server',
      argv: [
        redis.binary,
        '--port',
        '0',
        '--unixsocket',
        redis.socket,
        '--unixsocketperm',
        '700',
        '--dir',
        join(runDir, 'redis'),
        '--save',
        '',
        '--appendonly',
        'yes',
      ],
      probe: { kind: 'redis', socket: redis.socket },
      url: redis.socket,
    },
  ];
}

function planMlfos(env: PlanEnv, stage: 'mlfo-cloud' | 'mlfo-edge'): PlannedProgram[] {
  const { spec, byName, redisUrl } = env;
  const inventory = join(env.runDir, 'topology.yaml');
  const out: PlannedProgram[] = [];
  for (const h of env.mlfoHosts) {
    if (h.role !== stage) continue;
    const ip = env.ip(h.name);
    const intentPort = port(h, 'MLFO_INTENT_PORT', PORTS.mlfo);
    const args = [
      '--role',
      h.role === 'mlfo-cloud' ? 'cloud' : 'edge',
      '--host',
      ip,
      '--intent-port',
      String(intentPort),
    ];
    if (h.role === 'mlfo-cloud') args.push('--momo-port', String(port(h, 'MLFO_MOMO_PORT', MOMO_PORT)));
    else {
      const parent = h.parent === undefined ? undefined : byName.get(h.parent);
      if (parent === undefined) {
        throw new Error(
          `host ${h.name} (mlfo-edge): parent ${JSON.stringify(h.parent ?? '')} is not a host of topology ${spec.name}; allowed: an mlfo-cloud host`,
        );
      }
      args.push('--parent', `${env.ip(parent.name)}:${port(parent, 'MLFO_MOMO_PORT', MOMO_PORT)}`);
    }
    args.push(
      '--inventory',
      inventory,
      '--redis',
      redisUrl ?? '',
      '--prefix',
      mlfoPrefix(env.runId, h.name),
      '--catalog',
      env.catalog,
      ...(env.mlfoArgs ?? []),
    );
    const url = `http://${ip}:${intentPort}`;
    out.push({
      stage,
      host: h.name,
      role: h.role,
      program: 'mlfo',
      argv: [env.place.node, join(env.place.root, 'bin', 'mlfo.mjs'), ...args],
      probe: { kind: 'http', url: `${url}/healthz` },
      url,
    });
  }
  return out;
}

function planAdapters(env: PlanEnv): PlannedProgram[] {
  const out: PlannedProgram[] = [];
  for (const h of env.spec.hosts) {
    if ((h.role !== 'fl-server' && h.role !== 'fl-client') || !env.wanted(h.role)) continue;
    const ip = env.ip(h.name);
    const restPort = port(h, 'FLOWER_ADAPTER_REST_PORT', PORTS.flowerAdapter);
    const url = `http://${ip}:${restPort}`;
    if (env.own(h.name)) {
      // the host's own command serves the REST contract (/serv, /cli, /status); only awaited
      out.push({
        stage: 'adapters',
        host: h.name,
        role: h.role,
        program: 'flower-adapter',
        argv: [],
        probe: { kind: 'http', url: `${url}/status` },
        url,
        own: true,
      });
      continue;
    }
    out.push({
      stage: 'adapters',
      host: h.name,
      role: h.role,
      program: 'flower-adapter',
      argv: [
        env.place.node,
        // as the bin's shebang does: a small young generation keeps a node's memory down
        '--max-semi-space-size=2',
        join(env.place.root, 'bin', 'flower-adapter.mjs'),
        '--host',
        ip,
        '--rest-port',
        String(restPort),
        '--fl-port',
        String(port(h, 'FLOWER_ADAPTER_FL_PORT', FL_PORT)),
        '--data-dir',
        env.dataDir,
        '--node-id',
        h.name,
        ...(env.adapterArgs ?? []),
      ],
      probe: { kind: 'http', url: `${url}/healthz` },
      url,
    });
  }
  return out;
}

const agentUrl = (ip: string) => `http://${ip}:${AGENT_PORTS.metrics}`;
const agentBase = (h: HostSpec, ip: string) => [
  '--node-id',
  h.name,
  '--host',
  ip,
  '--metrics-port',
  String(AGENT_PORTS.metrics),
  '--echo-port',
  String(AGENT_PORTS.echo),
  '--discard-port',
  String(AGENT_PORTS.discard),
];

function planTrafficSinks(env: PlanEnv): PlannedProgram[] {
  const out: PlannedProgram[] = [];
  for (const h of env.spec.hosts) {
    if (h.role !== 'traffic-sink' || !env.wanted(h.role) || env.own(h.name)) continue;
    const ip = env.ip(h.name);
    if (env.iperf3 !== undefined) {
      out.push({
        stage: 'traffic-sink',
        host: h.name,
        role: h.role,
        program: 'iperf3',
        argv: [env.iperf3, '-s', '-B', ip, '-p', String(IPERF3_PORT), '--forceflush'],
        probe: { kind: 'tcp', host: ip, port: IPERF3_PORT },
        url: `${ip}:${IPERF3_PORT}`,
      });
    }
    out.push({
      stage: 'traffic-sink',
      host: h.name,
      role: h.role,
      program: 'traffic-agent',
      argv: launchArgv(
        'topology/src/nodes/traffic-agent.ts',
        ['--role', 'sink', ...agentBase(h, ip)],
        env.place,
      ),
      probe: { kind: 'http', url: `${agentUrl(ip)}/metrics` },
      url: agentUrl(ip),
    });
  }
  return out;
}

function planTrafficSources(env: PlanEnv): PlannedProgram[] {
  const out: PlannedProgram[] = [];
  for (const h of env.spec.hosts) {
    if (h.role !== 'traffic-source' || !env.wanted(h.role) || env.own(h.name)) continue;
    const ip = env.ip(h.name);
    const traffic = h.traffic;
    if (traffic === undefined || !env.byName.has(traffic.to)) {
      throw new Error(
        `host ${h.name} (traffic-source): traffic.to ${JSON.stringify(traffic?.to ?? '')} is not a host of topology ${env.spec.name}; allowed: traffic: {to: <host>, rateMbps: <n>}`,
      );
    }
    const bulk =
      env.iperf3 !== undefined
        ? ['--bulk', 'iperf3', '--iperf3', env.iperf3, '--iperf3-port', String(IPERF3_PORT)]
        : ['--bulk', 'builtin'];
    out.push({
      stage: 'traffic-source',
      host: h.name,
      role: h.role,
      program: 'traffic-agent',
      argv: launchArgv(
        'topology/src/nodes/traffic-agent.ts',
        [
          '--role',
          'source',
          ...agentBase(h, ip),
          '--peer',
          env.ip(traffic.to),
          '--rate-mbps',
          String(traffic.rateMbps),
          ...bulk,
        ],
        env.place,
      ),
      probe: { kind: 'http', url: `${agentUrl(ip)}/metrics` },
      url: agentUrl(ip),
    });
  }
  return out;
}

function planPrometheus(env: PlanEnv): PlannedProgram[] {
  const out: PlannedProgram[] = [];
  for (const h of env.spec.hosts) {
    if (h.role !== 'prometheus' || !env.wanted(h.role) || env.prometheus === undefined || env.own(h.name))
      continue;
    const ip = env.ip(h.name);
    const url = `http://${ip}:${PORTS.prometheus}`;
    out.push({
      stage: 'prometheus',
      host: h.name,
      role: h.role,
      program: 'prometheus',
      argv: [
        env.prometheus,
        `--config.file=${join(env.runDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(env.runDir, 'prometheus-data', h.name)}`,
        `--web.listen-address=${ip}:${PORTS.prometheus}`,
      ],
      probe: { kind: 'http', url: `${url}/-/ready` },
      url,
    });
  }
  return out;
}
