// mlfo-topo up SPEC.yaml: brings a topology up on a backend, runs the node programs of every host
// by role (MLFOs, flower-adapters, background traffic, Prometheus), waits until they answer, then
// returns with the run left up (node programs run detached) — or, with --foreground, stays until
// Ctrl-C and tears everything down. A Ctrl-C or failure during `up` removes everything made so far.

import { join } from 'node:path';
import {
  type BackendName,
  backendUsage,
  defaultBackend,
  parseBackend,
  runsDirectory,
  startEmulation,
} from '../backend.ts';
import type { EmulatedNetwork } from '../network.ts';
import { redisUrlProblem } from '../nodes/programs.ts';
import { defaultRunId } from '../run-id.ts';
import { readTopologyFile } from '../../../common/topology-spec/spec-yaml.ts';
import { HOST_ROLES, type HostRole, type TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import { type CliIo, type Command, UsageError } from './command.ts';
import { numberOption, parse } from './run-target.ts';

export const command: Command = {
  summary: 'bring a topology up with its node programs (MLFOs, adapters, traffic, Prometheus)',
  usage: `mlfo-topo up SPEC.yaml [options]
${backendUsage()}
  --run-id ID             tags every resource (default <topology>-<time>)
  --links-without-delay   netns without sch_netem: run links that ask for delay/jitter/loss without them
  --no-programs           the network only, no node programs
  --roles R1,R2           only these roles' programs (${HOST_ROLES.join(', ')})
  --redis URL             Redis for the MLFOs (default: a redis-server of the run on the cloud MLFO host)
  --catalog FILE          operand catalog for the MLFOs (default intents/catalog.yaml)
  --data-dir DIR          data directory of the flower-adapters (default data/ of this repository)
  --scrape-interval S     Prometheus scrape interval in seconds (default 5, the seed's)
  --no-root-access        netns: no leg from this machine into the topology (hosts unreachable from here)
  --no-publish            do not forward hosts' published ports to 127.0.0.1
  --foreground            stay in the foreground; Ctrl-C tears the run down
  --runs-dir DIR          where run directories go (default ./runs, env MLFO_RUNS_DIR)`,

  async run(args, io) {
    const o = upOptions(args);
    const progress = (s: string) => io.stderr(`  … ${s}\n`);
    const net = await bringUp(o, io, progress);
    if (net === undefined) return 130;
    return runPrograms(net, o, io, progress);
  },
};

interface UpOptions {
  spec: TopologySpec;
  backend: BackendName;
  runId: string;
  runDir: string;
  roles: HostRole[] | undefined;
  scrapeIntervalS: number | undefined;
  foreground: boolean;
  values: Record<string, unknown>;
}

/** The command line, checked before anything starts. */
function upOptions(args: string[]): UpOptions {
  const { values, positionals } = parse('up', args, {
    backend: { type: 'string' },
    'run-id': { type: 'string' },
    'links-without-delay': { type: 'boolean' },
    'no-programs': { type: 'boolean' },
    roles: { type: 'string' },
    redis: { type: 'string' },
    catalog: { type: 'string' },
    'data-dir': { type: 'string' },
    'scrape-interval': { type: 'string' },
    'no-root-access': { type: 'boolean' },
    'no-publish': { type: 'boolean' },
    foreground: { type: 'boolean' },
  });
  if (values.run !== undefined) throw new UsageError('up: use --run-id to name a new run');
  if (positionals.length !== 1) throw new UsageError('up: expected one SPEC.yaml');
  const { spec } = readTopologyFile(positionals[0] as string);
  const backend =
    values.backend !== undefined
      ? parseBackend(String(values.backend), '--backend')
      : defaultBackend().backend;
  const runId = (values['run-id'] as string | undefined) ?? defaultRunId(spec.name);
  const runDir = join(runsDirectory(values['runs-dir'] as string | undefined), runId);
  let roles: HostRole[] | undefined;
  if (values.roles !== undefined) {
    roles = String(values.roles)
      .split(',')
      .map((r) => r.trim())
      .filter((r) => r !== '') as HostRole[];
    const bad = roles.filter((r) => !(HOST_ROLES as readonly string[]).includes(r));
    if (bad.length > 0)
      throw new UsageError(`--roles: unknown ${bad.join(', ')}; allowed: ${HOST_ROLES.join(', ')}`);
  }
  const redisProblem =
    values.redis !== undefined && values['no-programs'] !== true
      ? redisUrlProblem(String(values.redis), backend)
      : undefined;
  if (redisProblem) throw new UsageError(`--redis ${redisProblem}`);
  const scrapeIntervalS = numberOption(values, 'scrape-interval', { min: 1, max: 3600, integer: true });
  const foreground = values.foreground === true;

  return {
    spec,
    backend,
    runId,
    runDir,
    roles,
    scrapeIntervalS: typeof scrapeIntervalS === 'number' ? scrapeIntervalS : undefined,
    foreground,
    values,
  };
}

/** The network; undefined when a signal interrupted its start (everything made was removed). */
async function bringUp(
  o: UpOptions,
  io: CliIo,
  progress: (s: string) => void,
): Promise<EmulatedNetwork | undefined> {
  const { spec, backend, runId, runDir, values } = o;
  io.stderr(`mlfo-topo up: ${spec.name} (${spec.hosts.length} hosts) on ${backend}, run ${runId}\n`);
  const t0 = Date.now();
  let net: EmulatedNetwork;
  try {
    net = await startEmulation(spec, {
      backend,
      runId,
      runDir,
      linksWithoutDelay: values['links-without-delay'] === true,
      rootAccess: values['no-root-access'] !== true,
      publish: values['no-publish'] !== true,
      onProgress: progress,
      log: (m) => io.stderr(`${m}\n`),
    });
  } catch (err) {
    if ((err as Error).name !== 'InterruptedError') throw err;
    io.stderr(`mlfo-topo up: ${(err as Error).message}\n`);
    return undefined;
  }
  io.stderr(`network up in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

  return net;
}

/**
 * The node programs, the summary, then return (programs detached) or, in the foreground, wait for
 * Ctrl-C and tear down. A failure or Ctrl-C while programs start tears the network down.
 */
async function runPrograms(
  net: EmulatedNetwork,
  o: UpOptions,
  io: CliIo,
  progress: (s: string) => void,
): Promise<number> {
  const { runId, runDir, roles, scrapeIntervalS, foreground, values } = o;
  // From here a Ctrl-C aborts the node programs' start and tears the network down.
  const abort = new AbortController();
  let foregroundStop = false;
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    signalled ??= sig;
    abort.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let endpoints: Record<string, unknown> = {};
    if (values['no-programs'] !== true) {
      const { startNodePrograms } = await import('../nodes/index.ts');
      const t1 = Date.now();
      const programs = await startNodePrograms(net, {
        detached: !foreground,
        signal: abort.signal,
        onProgress: progress,
        ...(roles ? { roles } : {}),
        ...(values.redis !== undefined ? { redisUrl: String(values.redis) } : {}),
        ...(values.catalog !== undefined ? { catalog: String(values.catalog) } : {}),
        ...(values['data-dir'] !== undefined ? { dataDir: String(values['data-dir']) } : {}),
        ...(scrapeIntervalS !== undefined ? { scrapeIntervalS } : {}),
      });
      io.stderr(
        `${programs.programs.length} node programs ready in ${((Date.now() - t1) / 1000).toFixed(1)} s\n`,
      );
      endpoints = { ...programs.endpoints };
    }
    if (signalled) throw new Error(`interrupted by ${signalled}`);
    printSummary(net, endpoints, io.stdout);
    if (!foreground) {
      io.stdout(
        `\nrun ${runId} is up (${runDir}).  mlfo-topo status --run ${runId}  ·  mlfo-topo down --run ${runId}\n`,
      );
      return 0;
    }
    io.stdout('\nforeground: Ctrl-C tears the run down\n');
    // signal listeners alone do not keep Node running: hold the event loop until the signal
    const hold = setInterval(() => undefined, 1 << 30);
    await new Promise<void>((resolve) => {
      if (abort.signal.aborted) resolve();
      abort.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    clearInterval(hold);
    io.stderr(`${signalled ?? 'signal'}: tearing down run ${runId}\n`);
    foregroundStop = true;
    await net.stop();
    io.stderr(`run ${runId} is down\n`);
    return 0;
  } catch (err) {
    if (foregroundStop) {
      io.stderr(`${(err as Error).message}\nmlfo-topo clean --run ${runId} tries again\n`);
      return 1;
    }
    io.stderr(`mlfo-topo up: ${(err as Error).message}\ntearing down run ${runId}\n`);
    try {
      await net.stop();
    } catch (stopErr) {
      io.stderr(`${(stopErr as Error).message}\n`);
    }
    return signalled ? 130 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function printSummary(
  net: EmulatedNetwork,
  endpoints: Record<string, unknown>,
  out: (t: string) => void,
): void {
  const st = net.status();
  const byRole = new Map<string, number>();
  for (const h of st.hosts) byRole.set(h.role, (byRole.get(h.role) ?? 0) + 1);
  out(
    `run ${st.runId} · backend ${st.backend} · ${st.hosts.length} hosts (${[...byRole].map(([r, n]) => `${n} ${r}`).join(', ')}) · ` +
      `${st.switches.length} switches · ${st.links.length} links · netem ${st.netem ? 'yes' : 'no'} · cgroups ${st.cgroups}\n`,
  );
  for (const [k, v] of Object.entries(endpoints))
    if (v !== undefined) out(`  ${k.padEnd(12)} ${String(v)}\n`);
  for (const p of st.published) out(`  published    127.0.0.1:${p.hostPort} → ${p.host}:${p.port}\n`);
  for (const w of st.warnings) out(`  warning: ${w}\n`);
}
