// Monitoring acceptance over the emulated network: a small seed topology (2 cohorts, clients
// fc.10–11 and fc.12, no link delays) on the netns backend, every node program by role inside its
// host (Redis, cloud and edge MLFO, five flower-adapters, iperf3 and the traffic agents) and the
// Debian package's Prometheus in prom.0 with the config generated from the topology, scraping
// every second. Two intents (one per cohort) train to completion; while they train, the TCP RTT
// and cwnd series exist for each cohort's connections to its own FL server, one per client.
// Afterwards every PromQL expression of the dashboard (template variables at All) returns at least
// one series with data over the run, as a Grafana panel would query it; the dashboard's structure
// holds and its template variables resolve to this run's cohorts, hosts, servers and sessions; the
// app latency, app traffic and cloud MLFO bandwidth panels show the background application and the
// MLFO. Then everything stops and nothing of the run is left.
//
// The seed's addresses (10.0.0.0/16) are moved to a /16 of this test process, so a seed topology
// run by another test or a demo at the same time does not collide with this one.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type IntentView, postIntent, simpleIntents, waitIntent } from '../../mlfo/test/support/cluster.ts';
import { startEmulation } from '../../topology/src/backend.ts';
import { seedTopology } from '../../topology/src/generators/seed.ts';
import type { EmulatedNetwork } from '../../topology/src/network.ts';
import {
  findExecutable,
  type StartedNodePrograms,
  startNodePrograms,
} from '../../topology/src/nodes/index.ts';
import { REPO_ROOT } from '../../topology/src/nodes/programs.ts';
import type { TopologySpec } from '../../common/topology-spec/topology-spec.ts';
import { netnsLeftovers, netnsSkipReason } from '../../topology/test/support/netns-leftovers.ts';
import { waitFor } from '../../topology/test/support/wait.ts';
import {
  labelValuesQuery,
  loadDashboard,
  provisionedDatasource,
  queries,
  structureProblems,
  substituteAll,
  VARIABLE_RE,
  variableQuery,
} from './support/dashboard.ts';
import { prometheusSkip, promQuery, promQueryRange, promSeries } from './support/prometheus.ts';

const skip =
  netnsSkipReason() ??
  (prometheusSkip ||
    (findExecutable('redis-server') === undefined
      ? 'redis-server not installed (the MLFOs need it)'
      : false));
if (skip) console.log(`# dashboard netns test skipped: ${skip}`);

const OCTET = 20 + (process.pid % 50);
const ROUNDS = 8;
const runId = `dn${process.pid}${Math.random().toString(36).slice(2, 6)}`;

/** The seed topology on 10.<OCTET>.x.y. */
function topology(): TopologySpec {
  return seedTopology({
    cohorts: 2,
    clients: 3,
    cohortSizes: [2, 1],
    delays: false,
    name: 'dash-netns',
    baseNet: `10.${OCTET}`,
  });
}

/** Polls f every 250 ms until it yields a value. */
const until = <T>(what: string, timeoutMs: number, f: () => Promise<T | undefined>): Promise<T> =>
  waitFor(what, f, timeoutMs, 250);

const finite = (v: string) => Number.isFinite(Number(v));

describe('the dashboard over a netns seed topology', { skip, timeout: 240_000 }, () => {
  const spec = topology();
  let runDir = '';
  let net: EmulatedNetwork | undefined;
  let programs: StartedNodePrograms | undefined;
  let prom = '';
  /** unix seconds: the intents were posted / both completed */
  let posted = 0;
  let completed = 0;
  const intents: IntentView[] = [];

  before(async () => {
    runDir = mkdtempSync(join(tmpdir(), 'mlfo-dash-netns-'));
    const t0 = Date.now();
    net = await startEmulation(spec, {
      backend: 'netns',
      runId,
      runDir,
      publish: false,
      log: () => undefined,
    });
    const t1 = Date.now();
    programs = await startNodePrograms(net, {
      catalog: join(REPO_ROOT, 'intents', 'catalog.digits.yaml'),
      scrapeIntervalS: 1,
      mlfoArgs: ['--poll-ms', '200', '--step-backoff-ms', '250'],
      log: () => undefined,
    });
    prom = programs.endpoints.prometheus ?? '';
    console.log(
      `# network up in ${((t1 - t0) / 1000).toFixed(1)} s, node programs in ${((Date.now() - t1) / 1000).toFixed(1)} s`,
    );
  });

  // stop() is safe to call twice: after the last test this only removes the run directory
  after(async () => {
    try {
      await programs?.stop();
      await net?.stop();
    } finally {
      if (runDir !== '') rmSync(runDir, { recursive: true, force: true });
    }
  });

  it('Prometheus runs in prom.0 with the generated config at 1 s and scrapes every node program', async () => {
    assert.equal(prom, `http://${net!.ip('prom.0')}:9090`);
    const config = readFileSync(join(runDir, 'prometheus.yml'), 'utf8');
    assert.match(config, /scrape_interval: 1s/);
    const targets = await until('every target up', 30_000, async () => {
      const r = (await (await fetch(`${prom}/api/v1/targets`)).json()) as {
        data: { activeTargets: { labels: Record<string, string>; health: string }[] };
      };
      const t = r.data.activeTargets;
      return t.length === spec.hosts.length && t.every((x) => x.health === 'up') ? t : undefined;
    });
    assert.deepEqual(targets.map((t) => `${t.labels['job']} ${t.labels['host']}`).sort(), [
      'flower-adapter fc.10',
      'flower-adapter fc.11',
      'flower-adapter fc.12',
      'flower-adapter fed.1',
      'flower-adapter fed.2',
      'mlfo cloud.0',
      'mlfo mo.1',
      'prometheus prom.0',
      'traffic-agent app.1',
      'traffic-agent appserv.0',
    ]);
  });

  it('two intents, one per cohort, train; meanwhile TCP RTT and cwnd series exist for each cohort’s connections to its FL server', async (t) => {
    const [welding, drilling] = simpleIntents(runDir, runId);
    const common = { avgalgo: 'FedAvg', fracfit: '1', numround: String(ROUNDS), sameserver: 'no' };
    const posts = [
      { file: welding!, fields: { ...common, ipstart: '10', cohortsize: '2', minfit: '2', minav: '2' } },
      { file: drilling!, fields: { ...common, ipstart: '12', cohortsize: '1', minfit: '1', minav: '1' } },
    ];
    posted = Date.now() / 1000;
    const ids: string[] = [];
    for (const p of posts) {
      const r = await postIntent(programs!.endpoints.edge!, readFileSync(p.file, 'utf8'), p.fields);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      ids.push(String(r.body['id']));
    }
    const edge = () => programs!.endpoints.edge!;
    const training = await Promise.all(
      ids.map((id) => waitIntent(edge, id, ['training', 'completed', 'failed'], 90_000)),
    );
    for (const r of training)
      assert.equal(r.state, 'training', `too late to see it train: ${JSON.stringify(r)}`);
    const [s1, s2] = training.map((r) => r.server!.address);
    assert.equal(new Set([s1, s2]).size, 2, `two servers: ${s1}, ${s2}`);
    assert.deepEqual([s1, s2], [`${net!.ip('fed.1')}:6000`, `${net!.ip('fed.2')}:6000`]);

    const expected = JSON.stringify([
      ['1', s1, '2'],
      ['2', s2, '1'],
    ]);
    for (const metric of ['fl_tcp_rtt_seconds', 'fl_tcp_cwnd_segments']) {
      let last = '';
      await until(`${metric}: one series per client, per cohort and server`, 30_000, async () => {
        const r = await promQuery(prom, `count by (cohort, server) (${metric})`);
        last = JSON.stringify(
          (r.data?.result ?? []).map((s) => [s.metric['cohort'], s.metric['server'], s.value[1]]).sort(),
        );
        return last === expected ? true : undefined;
      }).catch((err: Error) => {
        throw new Error(`${err.message}; last: ${last}`);
      });
    }
    const seen = Date.now() / 1000;
    const rtt = await promQuery(prom, 'fl_tcp_rtt_seconds');
    const flows = (rtt.data?.result ?? [])
      .map((s) => [s.metric['host'], s.metric['server'], s.metric['session'] ?? ''])
      .sort();
    assert.deepEqual(
      flows.map(([h, srv]) => [h, srv]),
      [
        ['fc.10', s1],
        ['fc.11', s1],
        ['fc.12', s2],
      ],
    );
    for (const [host, , session] of flows)
      assert.match(session!, /^cli-/, `the flow of ${host} names its session`);
    for (const s of rtt.data!.result) {
      const v = Number(s.value[1]);
      assert.ok(v > 0 && v < 1, `RTT ${v} s on ${s.metric['host']}`);
    }
    const cwnd = await promQuery(prom, 'avg by (cohort, server) (fl_tcp_cwnd_segments)');
    for (const s of cwnd.data!.result) assert.ok(Number(s.value[1]) >= 1, `cwnd ${s.value[1]}`);
    t.diagnostic(
      `RTT ms: ${rtt.data!.result.map((s) => `${s.metric['host']} ${(Number(s.value[1]) * 1000).toFixed(2)}`).join(', ')}; ` +
        `cwnd: ${cwnd.data!.result.map((s) => `cohort ${s.metric['cohort']} ${s.value[1]}`).join(', ')}`,
    );

    const done = await Promise.all(ids.map((id) => waitIntent(edge, id, ['completed', 'failed'], 90_000)));
    completed = Date.now() / 1000;
    for (const r of done) {
      assert.equal(r.state, 'completed', JSON.stringify(r));
      assert.equal(r.rounds.length, ROUNDS, JSON.stringify(r.rounds));
    }
    intents.push(...done);
    t.diagnostic(
      `TCP series of both cohorts seen ${(seen - posted).toFixed(1)} s, both intents completed ${(completed - posted).toFixed(1)} s after posting`,
    );
  });

  // The range a panel would show: from the posting to a few scrapes after completion.
  const range = async (expr: string) => {
    const r = await promQueryRange(prom, expr, Math.floor(posted) - 5, Math.ceil(Date.now() / 1000), 1);
    assert.equal(r.status, 'success', `${expr}: ${JSON.stringify(r)}`);
    return r.data!.result;
  };

  it('every dashboard expression returns at least one series with data over the run', async (t) => {
    assert.ok(completed > 0, 'the intents completed');
    // rates over 30 s and the last round's series need a few scrapes after completion
    await until('three scrapes after completion', 15_000, async () => {
      const r = await promQuery(prom, 'min(timestamp(up))');
      return Number(r.data?.result[0]?.value[1]) > completed + 3 ? true : undefined;
    });
    const empty: string[] = [];
    const qs = queries(loadDashboard());
    for (const q of qs) {
      const result = await range(substituteAll(q.expr));
      if (!result.some((s) => s.values.some(([, v]) => finite(v))))
        empty.push(`"${q.panel.title}" ${q.target.refId}: ${q.expr}`);
    }
    assert.deepEqual(empty, [], 'queries without data');
    t.diagnostic(`${qs.length} queries of ${new Set(qs.map((q) => q.panel.title)).size} panels have data`);
  });

  it('app latency, app traffic and cloud MLFO bandwidth show the background application and the cloud MLFO', async (t) => {
    const byTitle = (title: string) => {
      const qs = queries(loadDashboard()).filter((q) => q.panel.title === title);
      assert.ok(qs.length > 0, `panel "${title}"`);
      return qs;
    };
    /** per legend (host and refId): the largest value over the run */
    const peaks = async (title: string) => {
      const out: Record<string, number> = {};
      for (const q of byTitle(title)) {
        for (const s of await range(substituteAll(q.expr))) {
          const vs = s.values.map(([, v]) => Number(v)).filter(Number.isFinite);
          out[`${s.metric['host'] ?? ''} ${q.target.refId}`] = Math.max(...vs);
        }
      }
      return out;
    };
    const latency = await peaks('App server latency');
    assert.deepEqual(Object.keys(latency).sort(), ['app.1 A', 'app.1 B']);
    for (const [k, v] of Object.entries(latency)) assert.ok(v > 0 && v < 1, `latency ${k}: ${v} s`);
    const traffic = await peaks('App traffic');
    // app.1 sends the seed's 20 Mbit/s towards appserv.0 (iperf3), which receives it. The panel's
    // rate over 30 s reads low here: the agents started less than 30 s before the run's end, and
    // Prometheus divides a younger series' increase by the whole window; hence a quarter of 20.
    assert.ok(traffic['app.1 A']! > 5e6, `app.1 sent ${traffic['app.1 A']} bit/s`);
    assert.ok(traffic['appserv.0 B']! > 5e6, `appserv.0 received ${traffic['appserv.0 B']} bit/s`);
    assert.ok(traffic['app.1 B']! < traffic['app.1 A']! / 10, 'the bulk flow goes from app.1 to appserv.0');
    const cloud = await peaks('Cloud MLFO bandwidth');
    assert.deepEqual(Object.keys(cloud).sort(), ['cloud.0 A', 'cloud.0 B']);
    for (const [k, v] of Object.entries(cloud)) assert.ok(v > 0, `cloud MLFO ${k}: ${v} bit/s`);
    const mbps = (o: Record<string, number>) =>
      Object.entries(o)
        .map(([k, v]) => `${k} ${(v / 1e6).toFixed(2)}`)
        .join(', ');
    t.diagnostic(
      `peaks: latency ms ${Object.entries(latency)
        .map(([k, v]) => `${k} ${(v * 1000).toFixed(2)}`)
        .join(', ')}; app Mbit/s ${mbps(traffic)}; cloud MLFO Mbit/s ${mbps(cloud)}`,
    );
  });

  it('the dashboard’s structure holds; its template variables resolve to this run’s cohorts, hosts, servers and sessions', async () => {
    const dashboard = loadDashboard();
    assert.deepEqual(structureProblems(dashboard, provisionedDatasource()), []);
    const start = Math.floor(posted) - 5;
    const end = Math.ceil(Date.now() / 1000);
    const values: Record<string, string[]> = {};
    for (const v of dashboard.templating?.list ?? []) {
      const q = labelValuesQuery(variableQuery(v));
      assert.ok(q, `variable ${v.name}: ${variableQuery(v)}`);
      const series = await promSeries(prom, q.selector, start, end);
      values[v.name!] = [...new Set(series.map((s) => s[q.label]).filter((x) => x !== undefined))].sort();
    }
    const sessions = intents.flatMap((r) => [r.server!.session!, ...r.clients.map((c) => c.session)]);
    assert.deepEqual(values, {
      cohort: ['1', '2'],
      host: spec.hosts.map((h) => h.name).sort(),
      server: intents.map((r) => r.server!.address).sort(),
      session: sessions.sort(),
    });
  });

  it('the cohort variable narrows the per-cohort panels to that cohort', async () => {
    for (const title of ['Average TCP congestion window per cohort', 'Average TCP RTT per cohort']) {
      const q = queries(loadDashboard()).find((x) => x.panel.title === title)!;
      const only2 = q.expr.replace(VARIABLE_RE, (m) => (m === '$cohort' ? '2' : '.*'));
      const rows = (await range(only2)).map((s) => [s.metric['cohort'], s.metric['server']]);
      assert.deepEqual(rows, [['2', intents[1]!.server!.address]], title);
    }
  });

  it('stop ends every node program and leaves nothing of the run', async () => {
    const pids = programs!.programs.map((p) => p.pid);
    await programs!.stop();
    const report = await net!.stop();
    assert.deepEqual(report.failures, []);
    assert.deepEqual(netnsLeftovers(runId, pids), []);
  });
});
