// One FL experiment over an emulated network, from intent to trained models: bring the topology
// up (netns, docker or local), run its node programs (cloud and edge MLFO with a Redis of the run,
// flower-adapters, background traffic, Prometheus when installed), post a cohort config through
// the real `sendintent` CLI (its --follow shows each cohort's round, loss and accuracy live), then
// collect per cohort the rounds, final accuracy, intent-to-training latency and FL bytes into
// `<runDir>/report.json` and an SVG chart, and tear everything down unless asked to keep it.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKENDS, startEmulation } from '../backend.ts';
import type { BackendName } from '../backend.ts';
import type { EmulatedNetwork } from '../network.ts';
import { probeNetem } from '../netns/shaping.ts';
import type { TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import { linksNeedingNetem } from '../../../common/topology-spec/validate.ts';
import { loadCohortConfig, planCohortPosts } from '../../../common/intent/cohort-config.ts';
import { isEnded } from '../../../common/ended-states.ts';
import { accuracyChartSvg } from './chart.ts';
import type { CohortResult, ExperimentReport } from './experiment-report.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export interface ExperimentOptions {
  backend: BackendName;
  runId: string;
  runDir: string;
  spec: TopologySpec;
  /** cohort config file (intents/cohorts/*.yaml format) */
  cohortConfig: string;
  /** operand catalog of the MLFOs; recorded in the report */
  catalog: string;
  /** leave the run up at the end (node programs detached) */
  keep?: boolean;
  /** Redis for the MLFOs; default a redis-server of the run */
  redisUrl?: string;
  dataDir?: string;
  /** give up when training has not ended after this long; default 1800 */
  timeoutS?: number;
  out?: (text: string) => void;
  signal?: AbortSignal;
}

interface IntentView {
  id: string;
  intentID: string;
  state: string;
  error?: string;
  form: Record<string, string>;
  clients: { node: string }[];
  rounds: { round: number; loss?: number; accuracy?: number; durationMs?: number }[];
  round: number;
  numRounds: number;
  accuracy?: number;
  loss?: number;
  server?: { address: string; session?: string };
  stageSeconds: Record<string, number>;
}

export async function runExperiment(o: ExperimentOptions): Promise<ExperimentReport> {
  const out = o.out ?? ((t: string) => process.stdout.write(t));
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  const net = await bringUp(o, out);
  let keepUp = false;
  let primary: unknown;
  const checkAbort = () => {
    if (o.signal?.aborted) throw new Error('interrupted');
  };
  try {
    checkAbort();
    const tNet = Date.now();
    const { startNodePrograms } = await import('../nodes/index.ts');
    const programs = await startNodePrograms(net, {
      detached: o.keep === true,
      catalog: o.catalog,
      onProgress: (s: string) => out(`  … ${s}\n`),
      ...(o.redisUrl ? { redisUrl: o.redisUrl } : {}),
      ...(o.dataDir ? { dataDir: o.dataDir } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const tProg = Date.now();
    const edge = edgeUrl(net);
    out(
      `${programs.programs.length} node programs ready in ${((tProg - tNet) / 1000).toFixed(1)} s; edge MLFO ${edge}\n\n`,
    );
    checkAbort();
    // ipstart of each configured cohort, so results keep the config's cohort numbers
    const planned = planCohortPosts(loadCohortConfig(o.cohortConfig)).map((p) => Number(p.fields.ipstart));
    const deadline = Date.now() + (o.timeoutS ?? 1800) * 1000;
    await sendIntents(o, edge, out, deadline);
    const intents = await waitAllEnded(edge, deadline, o.signal);
    const tTrain = Date.now();
    const cohorts = await collect(intents, planned);
    const report = experimentReport(o, net, cohorts, planned.length, {
      startedAt,
      t0,
      tNet,
      tProg,
      tTrain,
    });
    writeFileSync(join(o.runDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(o.runDir, 'accuracy.svg'), accuracyChartSvg(report));
    keepUp = o.keep === true;
    return report;
  } catch (err) {
    primary = err;
    throw err;
  } finally {
    if (!keepUp) {
      out(`tearing down run ${o.runId} …\n`);
      try {
        await net.stop();
      } catch (stopErr) {
        // the run's own outcome stays the error (or the report) the caller gets; teardown
        // problems are added to it, not put in its place
        if (primary instanceof Error) primary.message += `\n(teardown: ${(stopErr as Error).message})`;
        else out(`${(stopErr as Error).message}\nmlfo-topo clean --run ${o.runId} tries again\n`);
      }
    }
  }
}

/** The network of the experiment; without sch_netem on netns, links keep their delays unapplied. */
async function bringUp(o: ExperimentOptions, out: (t: string) => void): Promise<EmulatedNetwork> {
  let linksWithoutDelay = false;
  if (BACKENDS[o.backend].tcShaping && linksNeedingNetem(o.spec).length > 0) {
    const probe = await probeNetem();
    if (!probe.available) {
      linksWithoutDelay = true;
      out(
        `note: this kernel has no sch_netem (${probe.reason}); the links' delays are recorded but not applied ` +
          '(bandwidth is shaped)\n',
      );
    }
  }
  out(
    `bringing up ${o.spec.name}: ${o.spec.hosts.length} hosts, ${o.spec.switches.length} switches on ${o.backend}\n`,
  );
  return startEmulation(o.spec, {
    backend: o.backend,
    runId: o.runId,
    runDir: o.runDir,
    linksWithoutDelay,
    onProgress: (s) => out(`  … ${s}\n`),
    log: (m) => out(`${m}\n`),
  });
}

function experimentReport(
  o: ExperimentOptions,
  net: EmulatedNetwork,
  cohorts: CohortResult[],
  plannedCohorts: number,
  t: { startedAt: string; t0: number; tNet: number; tProg: number; tTrain: number },
): ExperimentReport {
  return {
    runId: o.runId,
    backend: o.backend,
    topology: {
      name: o.spec.name,
      hosts: o.spec.hosts.length,
      switches: o.spec.switches.length,
      links: o.spec.links.length,
    },
    netem: net.netem,
    linksWithoutDelay: net.status().linksWithoutDelay,
    catalog: o.catalog,
    cohortConfig: o.cohortConfig,
    startedAt: t.startedAt,
    seconds: {
      network: (t.tNet - t.t0) / 1000,
      programs: (t.tProg - t.tNet) / 1000,
      training: (t.tTrain - t.tProg) / 1000,
      total: (Date.now() - t.t0) / 1000,
    },
    cohorts,
    ok: cohorts.length === plannedCohorts && cohorts.every((c) => c.state === 'completed'),
  };
}

function edgeUrl(net: EmulatedNetwork): string {
  const edge = net.spec.hosts.find((h) => h.role === 'mlfo-edge');
  if (!edge) throw new Error(`topology ${net.spec.name} has no mlfo-edge host to send intents to`);
  return `http://${net.ip(edge.name)}:8000`;
}

/** The real sendintent CLI with --follow: posts one intent per cohort and shows progress live. */
function sendIntents(
  o: ExperimentOptions,
  edge: string,
  out: (t: string) => void,
  deadline: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(REPO, 'bin/sendintent.mjs'),
        '--config',
        o.cohortConfig,
        '--mlfo',
        edge,
        '--follow',
        '--interval-ms',
        '1000',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: process.env },
    );
    child.stdout.on('data', (d: Buffer) => out(d.toString()));
    child.stderr.on('data', (d: Buffer) => out(d.toString()));
    const onAbort = () => child.kill('SIGTERM');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let late = false;
    const timer = setTimeout(
      () => {
        late = true;
        child.kill('SIGTERM');
      },
      Math.max(0, deadline - Date.now()),
    );
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (o.signal?.aborted) reject(new Error('interrupted'));
      else if (late) reject(new Error('training did not end in time (sendintent --follow stopped)'));
      // 1 = a cohort failed or was rejected: the report says which; only a usage error (2) is fatal
      else if (code === 0 || code === 1) resolve();
      else reject(new Error(`sendintent exited with code ${code}`));
    });
  });
}

async function listIntents(edge: string): Promise<IntentView[]> {
  const res = await fetch(`${edge}/intents`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${edge}/intents: HTTP ${res.status}`);
  return ((await res.json()) as { intents: IntentView[] }).intents;
}

async function waitAllEnded(edge: string, deadline: number, signal?: AbortSignal): Promise<IntentView[]> {
  for (;;) {
    if (signal?.aborted) throw new Error('interrupted');
    const intents = await listIntents(edge);
    // sendintent has returned: every intent it could post is here; none means all were refused
    if (intents.length === 0) throw new Error('the edge MLFO accepted no intent (see sendintent above)');
    if (intents.every((i) => isEnded(i.state))) return intents;
    if (Date.now() > deadline) {
      throw new Error(`training did not end in time: ${intents.map((i) => `${i.id} ${i.state}`).join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function collect(intents: IntentView[], plannedIpstarts: number[]): Promise<CohortResult[]> {
  const sorted = [...intents].sort((a, b) => Number(a.form.ipstart ?? 0) - Number(b.form.ipstart ?? 0));
  return Promise.all(
    sorted.map(async (i, k) => {
      const index = plannedIpstarts.indexOf(Number(i.form.ipstart));
      const r: CohortResult = {
        cohort: index >= 0 ? index + 1 : k + 1,
        intent: i.intentID,
        id: i.id,
        state: i.state,
        clients: i.clients.length,
        rounds: i.rounds.length,
        numRounds: i.numRounds,
        history: i.rounds.map((x) => ({
          round: x.round,
          ...(x.loss !== undefined ? { loss: x.loss } : {}),
          ...(x.accuracy !== undefined ? { accuracy: x.accuracy } : {}),
          ...(x.durationMs !== undefined ? { durationMs: x.durationMs } : {}),
        })),
      };
      if (i.error !== undefined) r.error = i.error;
      if (i.accuracy !== undefined) r.finalAccuracy = i.accuracy;
      if (i.loss !== undefined) r.finalLoss = i.loss;
      if (i.stageSeconds.training !== undefined) r.intentToTrainingS = i.stageSeconds.training;
      if (i.stageSeconds.completed !== undefined) r.totalS = i.stageSeconds.completed;
      if (i.server) {
        r.server = i.server.address;
        const host = i.server.address.split(':')[0];
        if (i.server.session && host) {
          try {
            const res = await fetch(`http://${host}:5000/sessions/${encodeURIComponent(i.server.session)}`, {
              signal: AbortSignal.timeout(5000),
            });
            if (res.ok) {
              const s = (await res.json()) as { bytes?: { sent: number; received: number } };
              if (s.bytes) r.flBytes = s.bytes.sent + s.bytes.received;
            }
          } catch {
            // the FL bytes stay unknown; the rest of the report stands
          }
        }
      }
      return r;
    }),
  );
}

/** The summary table printed at the end of a run. */
export function summaryTable(report: ExperimentReport): string {
  const head = [
    'cohort',
    'intent',
    'clients',
    'rounds',
    'final acc.',
    'intent→training',
    'FL bytes',
    'state',
  ];
  const rows = report.cohorts.map((c) => [
    String(c.cohort),
    c.intent,
    String(c.clients),
    `${c.rounds}/${c.numRounds}`,
    c.finalAccuracy !== undefined ? c.finalAccuracy.toFixed(3) : '–',
    c.intentToTrainingS !== undefined ? `${c.intentToTrainingS.toFixed(2)} s` : '–',
    c.flBytes !== undefined ? `${(c.flBytes / 1e6).toFixed(1)} MB` : '–',
    c.state + (c.error ? ` (${c.error})` : ''),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [line(head), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].join('\n');
}
