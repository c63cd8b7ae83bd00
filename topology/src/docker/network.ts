// The docker backend (Containernet's way): every host is a container `mlfo-<runId>.<host>`,
// labelled with its run and host, started with no Docker network (`--network none`) and NET_ADMIN
// only, CPU and memory limited by the engine (NanoCpus, Memory). Its network namespace is named
// under /run/netns like a netns host's (`ip netns attach`), so the netns start stages run on it
// unchanged (netns/network.ts `startStaged`: sysctls, bridges for switches, veths `<host>-eth<N>`,
// addresses, HTB/netem shaping, the root access leg, published ports). This module is only the
// host layer: what is checked before anything is made (engine, images, names, addresses), how the
// containers are made, and the check that they still run before the network is up.
//
// A host's container runs `command:` from the spec when given; else, with the project image, an
// idle keeper (node programs are started in it later, through exec, stage by stage as on netns);
// with a user's image, that image as built. Project-image containers see the run directory at
// its own path (a bind mount): the run's Redis socket, the MLFOs' inventory and catalog,
// Prometheus's config and data live there; the programs themselves come from the image (/app),
// never from this machine's checkout. A user's image gets no mount.

import { join, resolve } from 'node:path';
import { mapLimit } from '../../../common/map-limit.ts';
import { readTopologyFile } from '../../../common/topology-spec/spec-yaml.ts';
import type { TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import type { EmulatedNetwork } from '../network.ts';
import { type HostLayer, startStaged } from '../netns/network.ts';
import { type NetworkPlan, planNetwork } from '../netns/plan.ts';
import type { StartOptions } from '../netns/start-options.ts';
import { type RunState, readState, writeState } from '../netns/state.ts';
import { batch } from '../sh.ts';
import { DockerNetwork, type HostContainer, hostImage } from './docker-network.ts';
import { DockerEngine } from './engine-api.ts';
import { BUILD_COMMAND, PROJECT_IMAGE } from './images.ts';
import { dockerTeardown, HOST_LABEL, IP_LABEL, RUN_LABEL } from './teardown.ts';

/** The main process of a project-image host without `command:`; node programs come through exec. */
const KEEPER = ['sleep', 'infinity'];

function dockerLayer(spec: TopologySpec, engine: DockerEngine): HostLayer {
  const containers = new Map<string, HostContainer>();
  return {
    backend: 'docker',
    check: async (_spec, plan) => {
      await engine.ping();
      const images = [...new Set(plan.hosts.map((h) => hostImage(spec, h.name)))];
      const missing: string[] = [];
      for (const image of images) if (!(await engine.imageExists(image))) missing.push(image);
      if (missing.length > 0) {
        const users = (image: string) =>
          plan.hosts.filter((h) => hostImage(spec, h.name) === image).map((h) => h.name);
        throw new Error(
          `image(s) not on this Docker engine: ${missing.map((i) => `${i} (hosts ${users(i).slice(0, 5).join(', ')})`).join('; ')}. ` +
            `Nothing was created. ${missing.includes(PROJECT_IMAGE) ? `Build the project image with \`${BUILD_COMMAND}\`; ` : ''}` +
            'a user image must be built or loaded (`docker build`, `docker load`) on this engine; none can be pulled here.',
        );
      }
      const taken = await engine.byNames(plan.hosts.map((h) => h.ns));
      const ofRun = await engine.list({ [RUN_LABEL]: plan.runId });
      const clashes = [...new Set([...taken, ...ofRun].map((c) => c.name))];
      if (clashes.length > 0) {
        throw new Error(
          `container name(s) already in use: ${clashes.slice(0, 5).join(', ')}${clashes.length > 5 ? ', …' : ''}; ` +
            `nothing was created. Remove them (a leftover of run ${plan.runId}: \`mlfo-topo clean --run ${plan.runId}\`) or use another run id.`,
        );
      }
      const ours = new Map(plan.hosts.map((h) => [h.ip.split('/')[0] ?? '', h.name]));
      const others = (await engine.list({ [IP_LABEL]: '' })).filter(
        (c) => c.labels[RUN_LABEL] !== plan.runId && ours.has(c.labels[IP_LABEL] ?? ''),
      );
      if (others.length > 0) {
        const list = others
          .slice(0, 5)
          .map(
            (c) => `${c.labels[IP_LABEL]} (host ${ours.get(c.labels[IP_LABEL] ?? '')}; container ${c.name})`,
          );
        throw new Error(
          `address(es) already used by containers of another run: ${list.join(', ')}; nothing was created. ` +
            'Stop that run or give this topology other addresses.',
        );
      }
    },
    createHosts: async (plan, state, runDir, step) => {
      step(`containers ${plan.hosts.length}`);
      state.containers = plan.hosts.map((h) => ({
        host: h.name,
        name: h.ns,
        image: hostImage(spec, h.name),
      }));
      state.namespaces = plan.hosts.map((h) => h.ns);
      writeState(runDir, state);
      // dockerd serialises much of a create; 16 in flight keep it busy on 2 cores (8: ~11 s for 60)
      await mapLimit(plan.hosts, 16, async (h) => {
        const host = spec.hosts.find((s) => s.name === h.name);
        const image = hostImage(spec, h.name);
        const command = host?.command ?? (image === PROJECT_IMAGE ? KEEPER : undefined);
        const id = await engine.create({
          name: h.ns,
          image,
          hostname: h.name,
          labels: {
            [RUN_LABEL]: plan.runId,
            [HOST_LABEL]: h.name,
            [IP_LABEL]: h.ip.split('/')[0] ?? '',
            'mlfo.backend': 'docker',
          },
          env: Object.entries(h.env).map(([k, v]) => `${k}=${v}`),
          ...(command ? { cmd: command } : {}),
          ...(image === PROJECT_IMAGE ? { binds: [`${resolve(runDir)}:${resolve(runDir)}`] } : {}),
          ...(h.cpus !== undefined ? { nanoCpus: Math.round(h.cpus * 1e9) } : {}),
          ...(h.memoryMb !== undefined ? { memoryBytes: Math.round(h.memoryMb * 1024 * 1024) } : {}),
        });
        const rec = state.containers?.find((c) => c.host === h.name);
        if (rec) rec.id = id;
        await engine.start(id, `container ${h.ns}`);
      });
      writeState(runDir, state);
      await learnContainers(engine, plan, state, containers);
      // the containers' namespaces get the names the netns link code works on
      await batch(
        ['ip'],
        plan.hosts.map((h) => `netns attach ${h.ns} ${containers.get(h.name)?.pid ?? 0}`),
      );
    },
    // limits were given at create (NanoCpus, Memory)
    limitHosts: async () => undefined,
    beforeUp: async (plan, state) => {
      await learnContainers(engine, plan, state, containers);
    },
    teardown: (runId, state) => dockerTeardown(runId, state),
    network: (spec2, plan, state, runDir, checks) =>
      new DockerNetwork(spec2, plan, state, runDir, checks.netem, containers),
  };
}

/**
 * Reads every container of the run (pid, env); a container that is not running fails the start
 * with its exit code and the tail of its output.
 */
async function learnContainers(
  engine: DockerEngine,
  plan: NetworkPlan,
  state: RunState,
  into: Map<string, HostContainer>,
): Promise<void> {
  const dead: string[] = [];
  await mapLimit(plan.hosts, 8, async (h) => {
    const rec = state.containers?.find((c) => c.host === h.name);
    const info = await engine.inspect(rec?.id ?? h.ns);
    if (!info) {
      dead.push(`${h.ns}: gone`);
      return;
    }
    if (!info.running) {
      const tail = await engine.logTail(info.id, 20);
      dead.push(
        `${h.ns} (image ${info.image}) exited with code ${info.exitCode}; its output ends:\n    ${tail.split('\n').join('\n    ') || '(nothing)'}`,
      );
      return;
    }
    into.set(h.name, { id: info.id, name: info.name, image: info.image, pid: info.pid, env: info.env });
  });
  if (dead.length > 0) {
    throw new Error(
      `${dead.length} container(s) of run ${plan.runId} stopped during start (everything of the run is removed):\n  ${dead.join('\n  ')}`,
    );
  }
}

export function startDockerNetwork(spec: TopologySpec, opts: StartOptions): Promise<EmulatedNetwork> {
  return startStaged(spec, opts, dockerLayer(spec, new DockerEngine()));
}

/** The running network of a docker run started by another process (`mlfo-topo up`). */
export async function attachDockerNetwork(runDir: string): Promise<EmulatedNetwork> {
  const state = readState(runDir, 'docker');
  if (!state)
    throw new Error(`cannot attach: ${join(runDir, 'state.json')} not found (not a docker run directory)`);
  if (state.phase !== 'up') {
    throw new Error(
      `cannot attach to run ${state.runId} in ${runDir}: its phase is '${state.phase}', only a run that is 'up' ` +
        `can be attached. Remove what is left with \`mlfo-topo clean --run ${state.runId}\`.`,
    );
  }
  const { spec } = readTopologyFile(join(runDir, 'topology.yaml'));
  const plan = planNetwork(spec, state.runId);
  const containers = new Map<string, HostContainer>();
  try {
    await learnContainers(new DockerEngine(), plan, state, containers);
  } catch (err) {
    throw new Error(
      `cannot attach to run ${state.runId}: ${(err as Error).message}\nRemove the rest with \`mlfo-topo clean --run ${state.runId}\``,
    );
  }
  return new DockerNetwork(spec, plan, state, runDir, state.netem ?? false, containers);
}
