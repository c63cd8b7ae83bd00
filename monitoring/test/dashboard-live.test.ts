// The dashboard against a real running system: Redis, a cloud and an edge MLFO (processes, MoMo
// over gRPC), five flower-adapter processes (FL servers fed.1–2, clients fc.10–12 in cohorts
// [2, 1]), the traffic agents (sink and source) and a real Prometheus scraping all of them every
// second with the config `mlfo-topo prometheus` makes of the same topology, all on a loopback /24
// of this test. Two intents train; meanwhile the TCP RTT and cwnd series exist for each cohort's
// connections to its own FL server (one per client), and every dashboard query, with the
// template variables at All (.*), evaluates on Prometheus to a non-empty result (failures aside).

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ClusterBase,
  type MlfoProcess,
  type NodeSpec,
  postIntent,
  ROOT,
  simpleIntents,
  startClusterBase,
  startMlfoProcess,
  testNet,
  waitIntent,
} from '../../mlfo/test/support/cluster.ts';
import { prometheusConfig } from '../../topology/src/monitoring/prometheus-config.ts';
import { type RunningAgent, readAgentConfig, startAgent } from '../../topology/src/nodes/traffic-agent.ts';
import { parseTopologyYaml, toYaml } from '../../topology/src/spec/spec-yaml.ts';
import type { TopologySpec } from '../../topology/src/spec/topology-spec.ts';
import { loadDashboard, queries, substituteAll, VARIABLE_RE } from './support/dashboard.ts';
import {
  prometheusSkip,
  type QueryResult,
  type StartedPrometheus,
  startPrometheus,
} from './support/prometheus.ts';

const net = testNet(41);
const skip = prometheusSkip;
if (skip) console.log(`# dashboard live test skipped: ${skip}`);

const servers: NodeSpec[] = [1, 2].map((i) => ({
  name: `fed.${i}`,
  address: `${net}.${100 + i}`,
  role: 'fl-server',
}));
const clients: NodeSpec[] = [10, 11, 12].map((i) => ({
  name: `fc.${i}`,
  address: `${net}.${i}`,
  role: 'fl-client',
}));

function topology(): TopologySpec {
  const ip = (last: number) => `${net}.${last}/24`;
  const spec: TopologySpec = {
    name: 'dashboard-live',
    hosts: [
      { name: 'cloud.0', ip: ip(1), role: 'mlfo-cloud' },
      { name: 'mo.1', ip: ip(2), role: 'mlfo-edge', parent: 'cloud.0' },
      { name: 'appserv.0', ip: ip(3), role: 'traffic-sink' },
      { name: 'app.1', ip: ip(4), role: 'traffic-source', traffic: { to: 'appserv.0', rateMbps: 1 } },
      { name: 'prom.0', ip: ip(5), role: 'prometheus' },
      { name: 'fed.1', ip: ip(101), role: 'fl-server', cohort: 1 },
      { name: 'fed.2', ip: ip(102), role: 'fl-server', cohort: 2 },
      { name: 'fc.10', ip: ip(10), role: 'fl-client', cohort: 1 },
      { name: 'fc.11', ip: ip(11), role: 'fl-client', cohort: 1 },
      { name: 'fc.12', ip: ip(12), role: 'fl-client', cohort: 2 },
    ],
    switches: [{ name: 's1' }],
    links: [],
  };
  spec.links = spec.hosts.map((h) => ({ a: h.name, b: 's1' }));
  return spec;
}

let base: ClusterBase | undefined;
let cloud: MlfoProcess | undefined;
let edge: MlfoProcess | undefined;
const agents: RunningAgent[] = [];
let prom: StartedPrometheus | undefined;
const spec = topology();

before(async () => {
  if (skip) return;
  base = await startClusterBase({
    tmpName: 'mlfo-dashboard-live',
    net,
    adapterNodes: [...servers, ...clients],
  });
  // the topology file itself is the MLFOs' inventory, as in the compose deployment
  const topoFile = join(base.dir, 'topology.yaml');
  writeFileSync(topoFile, toYaml(spec));
  parseTopologyYaml(readFileSync(topoFile, 'utf8'), topoFile);
  const common = [
    '--redis',
    base.redis.url,
    '--inventory',
    topoFile,
    '--catalog',
    join(ROOT, 'intents', 'catalog.digits.yaml'),
  ];
  cloud = await startMlfoProcess({
    host: `${net}.1`,
    intentPort: 8000,
    logFile: join(base.dir, 'cloud.log'),
    args: [
      '--role',
      'cloud',
      '--momo-port',
      '9000',
      '--prefix',
      `${base.prefix}-cloud`,
      '--server-wait-s',
      '120',
      ...common,
    ],
  });
  edge = await startMlfoProcess({
    host: `${net}.2`,
    intentPort: 8000,
    logFile: join(base.dir, 'edge.log'),
    args: [
      '--role',
      'edge',
      '--parent',
      `${net}.1:9000`,
      '--prefix',
      `${base.prefix}-edge`,
      '--poll-ms',
      '200',
      ...common,
    ],
  });
  const quiet = () => {};
  for (const argv of [
    ['--role', 'sink', '--host', `${net}.3`, '--node-id', 'appserv.0'],
    [
      ...['--role', 'source', '--host', `${net}.4`, '--node-id', 'app.1', '--peer', `${net}.3`],
      ...['--rate-mbps', '1', '--bulk', 'builtin', '--probe-interval-ms', '200'],
    ],
  ]) {
    const cfg = readAgentConfig(argv);
    if (cfg === 'help') throw new Error('unexpected help');
    agents.push(await startAgent(cfg, quiet));
  }
  prom = await startPrometheus(prometheusConfig(spec, { scrapeIntervalS: 1 }), { listen: `${net}.5:9090` });
});

after(async () => {
  await prom?.stop();
  for (const a of agents.reverse()) await a.stop();
  await edge?.stop();
  await cloud?.stop();
  await base?.stop();
});

async function poll<T>(what: string, timeoutMs: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function series(r: QueryResult): Array<Record<string, string>> {
  assert.equal(r.status, 'success', JSON.stringify(r));
  return (r.data?.result ?? []).map((s) => s.metric);
}

describe('the dashboard on a live system', { skip, timeout: 400_000 }, () => {
  let addresses: string[] = [];

  it('two intents train: cohort 1 (fc.10–11) and cohort 2 (fc.12), each with its own FL server', async () => {
    const [welding, drilling] = simpleIntents(base!.dir, 'live');
    const common = { avgalgo: 'FedAvg', fracfit: '1', numround: '60' };
    const posts = [
      {
        file: welding!,
        fields: { ...common, ipstart: '10', cohortsize: '2', minfit: '2', minav: '2', sameserver: 'nor' },
      },
      {
        file: drilling!,
        fields: { ...common, ipstart: '12', cohortsize: '1', minfit: '1', minav: '1', sameserver: 'no' },
      },
    ];
    const ids: string[] = [];
    for (const p of posts) {
      const r = await postIntent(edge!.url, readFileSync(p.file, 'utf8'), p.fields);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      ids.push(String(r.body['intentId']));
    }
    const recs = await Promise.all(
      ids.map((id) => waitIntent(() => edge!.url, id, ['training', 'failed'], 180_000)),
    );
    for (const r of recs) assert.equal(r.state, 'training', JSON.stringify(r));
    addresses = recs.map((r) => r.server!.address);
    assert.equal(new Set(addresses).size, 2, `two servers: ${addresses}`);
  });

  it('TCP RTT and cwnd series exist for each cohort’s connections to its FL server, one per client', async (t) => {
    const expected = [
      ['1', addresses[0]!, '2'],
      ['2', addresses[1]!, '1'],
    ];
    for (const metric of ['fl_tcp_rtt_seconds', 'fl_tcp_cwnd_segments']) {
      const got = await poll(`${metric} per cohort`, 60_000, async () => {
        const r = await prom!.query(`count by (cohort, server) (${metric})`);
        const rows = (r.data?.result ?? [])
          .map((s) => [s.metric['cohort'], s.metric['server'], s.value[1]])
          .sort();
        return JSON.stringify(rows) === JSON.stringify(expected) ? rows : undefined;
      }).catch(async (err: Error) => {
        const r = await prom!.query(`count by (cohort, server) (${metric})`);
        throw new Error(`${err.message}; last: ${JSON.stringify(r.data?.result)}`);
      });
      assert.deepEqual(got, expected);
    }
    // the dashboard's own per-cohort panels: one averaged series per cohort, RTT in (0, 1) s, cwnd ≥ 1
    const rtt = await prom!.query('avg by (cohort, server) (fl_tcp_rtt_seconds{cohort=~".*", server=~".*"})');
    for (const s of rtt.data!.result) {
      const v = Number(s.value[1]);
      assert.ok(v > 0 && v < 1, `RTT ${v} s for ${JSON.stringify(s.metric)}`);
    }
    const cwnd = await prom!.query('avg by (cohort, server) (fl_tcp_cwnd_segments)');
    assert.equal(cwnd.data!.result.length, 2);
    for (const s of cwnd.data!.result) assert.ok(Number(s.value[1]) >= 1);
    for (const [name, r] of [
      ['RTT s', rtt],
      ['cwnd', cwnd],
    ] as const) {
      t.diagnostic(
        `${name}: ${r.data!.result.map((s) => `cohort ${s.metric['cohort']} → ${s.metric['server']}: ${s.value[1]}`).join('; ')}`,
      );
    }
    // the session label ties each flow to the client session that opened it
    const flows = series(await prom!.query('fl_tcp_rtt_seconds'))
      .map((m) => [m['host'], m['server'], m['session']])
      .sort();
    assert.deepEqual(
      flows.map(([h, srv]) => [h, srv]),
      [
        ['fc.10', addresses[0]],
        ['fc.11', addresses[0]],
        ['fc.12', addresses[1]],
      ],
    );
    for (const [host, , session] of flows) assert.match(session ?? '', /^cli-/, `${host}`);
  });

  it('every dashboard query evaluates to a non-empty result with the variables at All (FL failures aside)', async () => {
    const qs = queries(loadDashboard());
    const mayBeEmpty = new Set(['FL failures']);
    const deadline = Date.now() + 120_000;
    let missing: string[] = [];
    do {
      missing = [];
      for (const q of qs) {
        const r = await prom!.query(substituteAll(q.expr));
        assert.equal(r.status, 'success', `panel "${q.panel.title}" ${q.target.refId}: ${JSON.stringify(r)}`);
        if ((r.data?.result ?? []).length === 0 && !mayBeEmpty.has(q.panel.title ?? '')) {
          missing.push(`"${q.panel.title}" ${q.target.refId}: ${q.expr}`);
        }
      }
      if (missing.length > 0) await new Promise((r) => setTimeout(r, 1000));
    } while (missing.length > 0 && Date.now() < deadline);
    assert.deepEqual(missing, [], 'panels without data');
  });

  it('the cohort variable narrows the per-cohort panels to that cohort', async () => {
    const cwnd = queries(loadDashboard()).find(
      (q) => q.panel.title === 'Average TCP congestion window per cohort',
    )!;
    const only2 = cwnd.expr.replace(VARIABLE_RE, (m) => (m === '$cohort' ? '2' : '.*'));
    const rows = series(await prom!.query(only2));
    assert.deepEqual(
      rows.map((m) => [m['cohort'], m['server']]),
      [['2', addresses[1]]],
    );
  });
});
