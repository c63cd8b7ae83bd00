// The demo (README's first command): the seed's topology scaled to this machine, brought up on
// the netns backend as root (local otherwise; `--backend docker`: every host a container, the node
// programs from the project image), with the cloud and edge MLFOs, flower-adapters and
// background traffic running in their hosts; the three seed intents sent through sendintent; live
// progress per cohort; a summary table, runs/<id>/report.json and runs/<id>/accuracy.svg; then
// everything is torn down (unless --keep). `--seed-experiment` runs the seed's own experiment.
//
//   npm run demo -- [--cohorts 3] [--clients 12] [--rounds 5] [--backend B] [--keep]
//   npm run demo -- --seed-experiment

import { mkdirSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BACKEND_NAMES,
  defaultBackend,
  defaultBackendText,
  parseBackend,
  runsDirectory,
} from '../topology/src/backend.ts';
import { runExperiment, summaryTable } from '../topology/src/experiment/run-experiment.ts';
import { seedTopology } from '../topology/src/generators/seed.ts';
import { defaultRunId } from '../topology/src/run-id.ts';
import { redisUrlProblem } from '../topology/src/nodes/programs.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const USAGE = `usage: npm run demo -- [options]
  --cohorts N          FL cohorts (servers fed.1…N), one seed intent each (default 3)
  --clients N          FL clients in all, split evenly over the cohorts (default 12, fewer where
                       memory is short)
  --rounds N           FL rounds per cohort (default 5)
  --fracfit X          fraction of a cohort's clients trained per round (default 1)
  --backend B          ${BACKEND_NAMES.join(' or ')} (default: ${defaultBackendText()})
  --catalog FILE       operand catalog (default intents/catalog.digits.yaml: only the digits exist here)
  --keep               leave the run up at the end (mlfo-topo status / down)
  --seed-experiment    the seed's experiment: 5 campuses × 10 clients, cohorts [30,10,10], the three
                       seed intents, FedAvg, fracfit 0.5, 20 rounds, 2 CPUs per FL node
  --base-net A.B       first two octets of the topology's addresses (default 10.0, the seed's)
  REDIS_URL            a Redis for the MLFOs (URL or unix socket path); default: a redis-server of the run
  --min-accuracy X     exit 1 when a cohort ends below this held-out accuracy (default 0)`;

let values: Record<string, string | boolean | undefined>;
try {
  values = parseArgs({
    options: {
      cohorts: { type: 'string', default: '3' },
      clients: { type: 'string' },
      rounds: { type: 'string', default: '5' },
      fracfit: { type: 'string', default: '1' },
      backend: { type: 'string' },
      catalog: { type: 'string', default: join(REPO, 'intents/catalog.digits.yaml') },
      keep: { type: 'boolean', default: false },
      'seed-experiment': { type: 'boolean', default: false },
      'min-accuracy': { type: 'string', default: '0' },
      'base-net': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function int(name: string, min: number, max: number): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(
      `--${name}: got ${JSON.stringify(values[name])}; allowed: an integer ${min}–${max}\n${USAGE}`,
    );
    process.exit(2);
  }
  return n;
}

const seedExperiment = values['seed-experiment'] === true;
if (seedExperiment) {
  const ignored = ['cohorts', 'clients', 'rounds', 'fracfit'].filter((k) =>
    process.argv.some((a) => a.startsWith(`--${k}`)),
  );
  if (ignored.length > 0)
    console.warn(`--seed-experiment fixes ${ignored.map((k) => `--${k}`).join(', ')}; ignored`);
}
const cohorts = seedExperiment ? 3 : int('cohorts', 1, 9);
// Scaled to the machine: 12 clients where they fit, fewer on a small one (a flower-adapter node
// takes ~150 MB; the MLFOs, Redis, Prometheus and traffic ~1.5 GB; 60 % of the memory is used).
const fitting = Math.floor(((totalmem() / 2 ** 30) * 0.6 - 1.5) / 0.15);
const clients = seedExperiment
  ? 50
  : values.clients !== undefined
    ? int('clients', cohorts, 90)
    : Math.max(cohorts, Math.min(12, fitting));
if (!seedExperiment && values.clients === undefined && clients < 12) {
  console.log(
    `${clients} clients: what fits this machine's ${(totalmem() / 2 ** 30).toFixed(1)} GB (--clients N overrides)`,
  );
}
const rounds = seedExperiment ? 20 : int('rounds', 1, 1000);
const fracfit = seedExperiment ? 0.5 : Number(values.fracfit);
const minAccuracy = Number(values['min-accuracy']);
if (!(fracfit > 0 && fracfit <= 1) || !(minAccuracy >= 0 && minAccuracy <= 1)) {
  console.error(`--fracfit must be in (0, 1] and --min-accuracy in [0, 1]\n${USAGE}`);
  process.exit(2);
}
const backend = values.backend
  ? parseBackend(String(values.backend), '--backend')
  : (() => {
      const d = defaultBackend();
      console.log(`backend ${d.backend} (${d.reason})`);
      return d.backend;
    })();

// Redis: REDIS_URL when set, else a redis-server of the run (its unix socket and data in the run
// directory, reachable from every host). What the backend's hosts cannot reach (this machine's
// loopback from netns or docker hosts, a socket of this machine from docker hosts) is refused
// before anything starts.
const redisUrl = process.env.REDIS_URL || undefined;
const redisProblem = redisUrl ? redisUrlProblem(redisUrl, backend) : undefined;
if (redisProblem) {
  console.error(`REDIS_URL=${redisProblem}; or use --backend local`);
  process.exit(2);
}
if (redisUrl) console.log(`Redis: ${redisUrl} (REDIS_URL)`);

// Cohort sizes: the seed's [30,10,10] for its experiment, else as even as possible.
const sizes = seedExperiment
  ? [30, 10, 10]
  : Array.from(
      { length: cohorts },
      (_, i) => Math.floor(clients / cohorts) + (i < clients % cohorts ? 1 : 0),
    );
const spec = seedTopology({
  name: seedExperiment ? 'seed-experiment' : 'seed-demo',
  cohorts,
  clients,
  cohortSizes: sizes,
  ...(values['base-net'] !== undefined ? { baseNet: String(values['base-net']) } : {}),
});

const runId = defaultRunId(seedExperiment ? 'seedexp' : 'demo');
const runDir = join(runsDirectory(), runId);
mkdirSync(runDir, { recursive: true });

// The seed's three intents in its order, one per cohort (cycled when there are more cohorts).
const seedIntents = seedExperiment
  ? ['3intent.yaml', 'intent.yaml', '2intent.yaml']
  : ['intent.yaml', '2intent.yaml', '3intent.yaml'];
const list = (f: (i: number) => string) => `[${sizes.map((_, i) => JSON.stringify(f(i))).join(', ')}]`;
const cohortConfig = join(runDir, 'cohorts.yaml');
writeFileSync(
  cohortConfig,
  [
    `# written by the demo for run ${runId}`,
    'timegap: 1',
    `cohortdistr: [${sizes.join(', ')}]`,
    `intentdist: ${list((i) => join(REPO, 'intents', seedIntents[i % seedIntents.length] as string))}`,
    `sameserverdist: ${list((i) => (i === 0 ? 'nor' : 'no'))}`,
    `avgalgodist: ${list(() => 'FedAvg')}`,
    `fracfitdist: ${list(() => String(fracfit))}`,
    // the seed experiment's own settings (intents/cohorts/seed.yaml): minfit 1, minav 1
    `minfitdist: ${list((i) => String(seedExperiment ? 1 : Math.max(1, Math.floor((sizes[i] ?? 1) * fracfit))))}`,
    `minavdist: ${list((i) => String(seedExperiment ? 1 : (sizes[i] ?? 1)))}`,
    `numrounddist: ${list(() => String(rounds))}`,
    '',
  ].join('\n'),
);

const abort = new AbortController();
let interrupted = false;
const onSignal = (sig: NodeJS.Signals) => {
  if (interrupted) {
    console.error(`${sig}: still tearing down run ${runId} …`);
    return;
  }
  interrupted = true;
  console.error(`\n${sig}: stopping and tearing down run ${runId} …`);
  abort.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

console.log(
  `run ${runId}: ${cohorts} cohorts [${sizes.join(', ')}], ${rounds} rounds, fracfit ${fracfit}; ` +
    `catalog ${values.catalog}; logs in ${join('runs', runId, 'logs')}`,
);
try {
  const report = await runExperiment({
    backend,
    runId,
    runDir,
    spec,
    cohortConfig,
    catalog: resolve(String(values.catalog)),
    keep: values.keep === true,
    signal: abort.signal,
    ...(redisUrl ? { redisUrl } : {}),
  });
  console.log(`\n${summaryTable(report)}\n`);
  const s = report.seconds;
  console.log(
    `network up ${s.network.toFixed(1)} s · node programs ${s.programs.toFixed(1)} s · intents to models ` +
      `${s.training.toFixed(1)} s · total ${s.total.toFixed(1)} s`,
  );
  console.log(`report ${join(runDir, 'report.json')} · chart ${join(runDir, 'accuracy.svg')}`);
  if (values.keep)
    console.log(`the run is up: npx mlfo-topo status --run ${runId} · npx mlfo-topo down --run ${runId}`);
  const low = report.cohorts.filter((c) => (c.finalAccuracy ?? 0) < minAccuracy);
  if (!report.ok || low.length > 0) {
    console.error(
      report.ok
        ? `cohort(s) ${low.map((c) => c.cohort).join(', ')} ended below --min-accuracy ${minAccuracy}`
        : 'not every cohort completed (see the table)',
    );
    process.exitCode = 1;
  }
} catch (err) {
  console.error(
    interrupted ? `interrupted; run ${runId} torn down` : `demo failed: ${(err as Error).message}`,
  );
  process.exitCode = interrupted ? 130 : 1;
}
if (interrupted) process.exitCode = 130;
