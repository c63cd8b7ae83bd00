// The netns backend (Mininet's way): a host is a network namespace, a switch a Linux bridge in
// the root namespace, a link a veth pair whose ends sit in the hosts' namespaces or on the
// bridges, shaped with tc on each end's egress. `startNetwork` turns a spec into a running
// network (netns-network.ts) and returns it started; `stop()` undoes everything it made and
// nothing else. A veth from the root namespace to one switch (root-access.ts) lets this machine
// reach the hosts at their addresses, and a port forwarder (publish.ts) publishes hosts' ports on
// 127.0.0.1. `attachNetwork` rebuilds a running network in another process from
// `<runDir>/topology.yaml` and state.json, where setLink/limit record their changes.
//
// Start runs in stages: checks that create nothing (preflight.ts), the run recorded, namespaces,
// sysctls (sysctls.ts), links, addresses and shaping (links.ts), cgroups (cgroups.ts), published
// ports. Resources are recorded in `<runDir>/state.json` before they are created, all carry the
// run id (see plan.ts), and a failure or SIGINT/SIGTERM during start removes what was made before
// the error is rethrown. Creation is batched (`ip -batch -`, `tc -batch -`) to keep bring-up fast.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmulatedNetwork, TeardownReport } from '../network.ts';
import { batch } from '../sh.ts';
import { readTopologyFile, toYaml } from '../../../common/topology-spec/spec-yaml.ts';
import type { TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import { assertValid } from '../../../common/topology-spec/validate.ts';
import { catchStartSignals, noteCleanupFailures } from '../start-signals.ts';
import {
  type CgroupLayout,
  applyLimits,
  createHostCgroup,
  createRunCgroup,
  detectCgroups,
  hostCgroupDirs,
  runCgroupDirs,
} from './cgroups.ts';
import { addressHosts, createLinks, shapeLinks } from './links.ts';
import { NetnsNetwork } from './netns-network.ts';
import { type NetworkPlan, planNetwork } from './plan.ts';
import { checkBeforeStart, describeDelay, type StartChecks } from './preflight.ts';
import { publishPorts } from './publish.ts';
import type { StartOptions } from './start-options.ts';
import { type NamespaceBackend, type RunState, readState, writeState } from './state.ts';
import { setRunSysctls } from './sysctls.ts';
import { listNamespaces, teardown } from './teardown.ts';

export class InterruptedError extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`network start interrupted by ${signal}; everything created so far was removed`);
    this.name = 'InterruptedError';
  }
}

/** The netns backend's network; kept as an alias so existing imports go on working. */
export type StartedNetwork = EmulatedNetwork;

/**
 * What makes a host's namespace, the one part of start that differs between backends whose hosts
 * are network namespaces: netns creates bare namespaces and limits them with its cgroups; docker
 * starts containers and names their namespaces (Containernet's Docker host is a Mininet host).
 * Everything else (sysctls, links, addresses, shaping, the root leg, published ports, teardown on
 * failure) is the same code for both.
 */
export interface HostLayer {
  backend: NamespaceBackend;
  /** checks that create nothing, after the common ones; throws to refuse the start */
  check?(spec: TopologySpec, plan: NetworkPlan, checks: StartChecks): Promise<void>;
  /** makes `/run/netns/<h.ns>` exist for every host, recording what it makes in `state` first */
  createHosts(
    plan: NetworkPlan,
    state: RunState,
    runDir: string,
    step: (name: string) => void,
  ): Promise<void>;
  /** CPU/memory limits of the hosts, once they exist */
  limitHosts(
    plan: NetworkPlan,
    state: RunState,
    runDir: string,
    checks: StartChecks,
    step: (name: string) => void,
  ): Promise<void>;
  /** the last check before the run is up (e.g. every container still runs) */
  beforeUp?(plan: NetworkPlan, state: RunState, runDir: string): Promise<void>;
  /** removes everything of the run (failed start) */
  teardown(runId: string, state: RunState): Promise<TeardownReport>;
  network(
    spec: TopologySpec,
    plan: NetworkPlan,
    state: RunState,
    runDir: string,
    checks: StartChecks,
  ): EmulatedNetwork;
}

const NETNS_LAYER: HostLayer = {
  backend: 'netns',
  createHosts: async (plan, state, runDir, step) => {
    step(`namespaces ${plan.hosts.length}`);
    state.namespaces = plan.hosts.map((h) => h.ns);
    writeState(runDir, state);
    await batch(
      ['ip'],
      plan.hosts.map((h) => `netns add ${h.ns}`),
    );
  },
  limitHosts: async (plan, state, runDir, checks, step) => {
    if (!checks.layout) return;
    step(`cgroups ${plan.hosts.length}`);
    createCgroups(checks.layout, plan, state, runDir);
  },
  teardown: (runId, state) => teardown({ runId, state, byTag: true }),
  network: (spec, plan, state, runDir, checks) =>
    new NetnsNetwork(spec, plan, state, runDir, checks.layout, checks.netem),
};

export function startNetwork(spec: TopologySpec, opts: StartOptions): Promise<EmulatedNetwork> {
  return startStaged(spec, opts, NETNS_LAYER);
}

/** Start in stages over a host layer; a failure or signal removes what was made, then rethrows. */
export async function startStaged(
  spec: TopologySpec,
  opts: StartOptions,
  layer: HostLayer,
): Promise<EmulatedNetwork> {
  const log = opts.log ?? ((m: string) => console.warn(m));
  const progress = opts.onProgress ?? (() => undefined);
  assertValid(spec);
  const plan = planNetwork(spec, opts.runId);
  const checks = await checkBeforeStart(spec, plan, opts, layer.backend);
  await layer.check?.(spec, plan, checks);
  const state = recordRun(spec, plan, checks, opts, log, layer.backend);

  const signals = catchStartSignals(progress, (sig) => new InterruptedError(sig));
  const step = signals.step;
  try {
    await layer.createHosts(plan, state, opts.runDir, step);

    setRunSysctls(plan, state, opts.runDir, log, step);

    step(`switches ${plan.bridges.size}, links ${plan.links.length}`);
    state.bridges = Object.fromEntries(plan.bridges);
    state.veths = plan.links.flatMap((l) =>
      [l.a, l.b].filter((e) => e.kind === 'switch').map((e) => e.ifname),
    );
    if (checks.access.leg) state.veths.push(checks.access.leg.ifname);
    writeState(opts.runDir, state);
    await createLinks(plan, checks.access.leg);

    step(`addresses ${plan.hosts.length}`);
    await addressHosts(plan);

    step('shaping');
    await shapeLinks(plan, checks.netem);

    await layer.limitHosts(plan, state, opts.runDir, checks, step);
    if (checks.pairs.length > 0) {
      step(`publish ${checks.pairs.length}`);
      await publishPorts(checks.pairs, state, opts.runDir, log);
    }
    await layer.beforeUp?.(plan, state, opts.runDir);
    step('up');
    state.phase = 'up';
    writeState(opts.runDir, state);
    return layer.network(spec, plan, state, opts.runDir, checks);
  } catch (err) {
    const report = await layer.teardown(opts.runId, state);
    state.phase = 'failed';
    writeState(opts.runDir, state);
    noteCleanupFailures(err, report.failures);
    throw err;
  } finally {
    signals.release();
  }
}

/** Writes topology.yaml and the run's first state.json (nothing created yet), with its warnings. */
function recordRun(
  spec: TopologySpec,
  plan: NetworkPlan,
  checks: StartChecks,
  opts: StartOptions,
  log: (message: string) => void,
  backend: NamespaceBackend,
): RunState {
  const { withDelay, netem, access } = checks;
  mkdirSync(opts.runDir, { recursive: true });
  writeFileSync(join(opts.runDir, 'topology.yaml'), toYaml(spec));
  const state: RunState = {
    version: 1,
    backend,
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
  for (const w of [...access.warnings, ...checks.publishWarnings]) {
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
  return state;
}

/** The run's cgroup and one per host (recorded first), with the hosts' planned limits. */
function createCgroups(layout: CgroupLayout, plan: NetworkPlan, state: RunState, runDir: string): void {
  state.cgroups = [
    ...runCgroupDirs(layout, plan.runId),
    ...plan.hosts.flatMap((h) => hostCgroupDirs(layout, plan.runId, h.name)),
  ];
  writeState(runDir, state);
  createRunCgroup(layout, plan.runId);
  for (const h of plan.hosts) {
    createHostCgroup(layout, plan.runId, h.name);
    if (h.cpus !== undefined || h.memoryMb !== undefined) {
      applyLimits(layout, plan.runId, h.name, { cpus: h.cpus, memoryMb: h.memoryMb });
    }
  }
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
