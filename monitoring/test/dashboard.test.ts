// The Grafana dashboard and provisioning files: structure (support/dashboard.ts structureProblems:
// unique ids, datasource references that resolve to the provisioned uid, targets with expressions,
// template variables defined and usable as All = `.*`, a layout without overlaps; and that the check
// finds each kind of problem), the seed's panels and the intent pipeline panels by
// title, every metric it reads documented in monitoring/README.md and every documented flower-
// adapter / MLFO / traffic-agent metric really registered by that service's code, and every
// expression accepted by the real promtool (PromQL parser and type checks).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { AdapterMetrics } from '../../flower-adapter/src/metrics.ts';
import { MlfoMetrics } from '../../mlfo/src/metrics.ts';
import { AgentMetrics } from '../../topology/src/nodes/traffic-agent.ts';
import {
  allPanels,
  baseMetric,
  GRAFANA,
  loadDashboard,
  metricNames,
  type Panel,
  provisionedDatasource,
  queries,
  ROOT,
  structureProblems,
  substituteAll,
} from './support/dashboard.ts';
import { promtool, promtoolSkip } from './support/prometheus.ts';

const dashboard = loadDashboard();
const ds = provisionedDatasource();
const dir = mkdtempSync(join(tmpdir(), 'mlfo-dashboard-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SEED_PANELS = [
  'Total FL traffic',
  'FL traffic rate',
  'FL servers: sent and received',
  'Average TCP congestion window per cohort',
  'Average TCP RTT per cohort',
  'App server latency',
  'App traffic',
  'Model loss',
  'Model accuracy',
  'Cloud MLFO bandwidth',
];
const PIPELINE_PANELS = [
  'Intents by state',
  'Intent-to-training latency',
  'Rounds per cohort',
  'Orchestration queue depth',
];

describe('dashboard mlfo-fl.json', () => {
  const visible = allPanels(dashboard).filter((p) => p.type !== 'row');

  it('has no structural problem: ids, datasource by the provisioned uid, targets, variables, layout', () => {
    assert.equal(ds.type, 'prometheus');
    assert.deepEqual(structureProblems(dashboard, ds), []);
  });

  it('the structure check finds each kind of problem in a damaged copy', () => {
    const broken = structuredClone(dashboard);
    const flat = allPanels(broken).filter((p) => p.type !== 'row');
    const [a, b, c] = flat as [Panel, Panel, Panel];
    a.datasource = { type: 'prometheus', uid: 'elsewhere' };
    b.id = a.id;
    c.targets = [{ refId: 'A', expr: 'up{host="$nosuch"}' }];
    b.gridPos = { ...a.gridPos! };
    broken.templating!.list![0]!.allValue = '';
    const problems = structureProblems(broken, ds);
    const expect = [
      `panel "${a.title}": datasource {"type":"prometheus","uid":"elsewhere"}`,
      `panel id ${a.id} is used more than once`,
      `panel "${c.title}" uses undefined $nosuch`,
      `panel "${c.title}": host="$nosuch"; a variable goes alone into a =~ matcher`,
      `panels "${a.title}" and "${b.title}" overlap`,
      'variable cohort: All must be offered as .*',
    ];
    for (const e of expect)
      assert.ok(
        problems.some((p) => p.startsWith(e)),
        `"${e}" not among:\n${problems.join('\n')}`,
      );
  });

  it('the seed’s panels and the intent pipeline panels are there, by title', () => {
    const titles = visible.map((p) => p.title);
    for (const t of [...SEED_PANELS, ...PIPELINE_PANELS])
      assert.ok(titles.includes(t), `missing panel "${t}"`);
    const titleCount = new Map<string, number>();
    for (const t of titles) titleCount.set(t ?? '', (titleCount.get(t ?? '') ?? 0) + 1);
    assert.deepEqual(
      [...titleCount].filter(([, n]) => n > 1),
      [],
      'titles are unique',
    );
  });
});

describe('provisioning', () => {
  it('the dashboard provider loads the folder the compose file mounts the dashboards into', () => {
    const doc = parse(readFileSync(join(GRAFANA, 'provisioning', 'dashboards', 'mlfo.yaml'), 'utf8')) as {
      apiVersion: number;
      providers: Array<{ type: string; options: { path: string } }>;
    };
    assert.equal(doc.apiVersion, 1);
    assert.equal(doc.providers.length, 1);
    assert.equal(doc.providers[0]!.type, 'file');
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    assert.ok(
      compose.includes(`./monitoring/grafana/dashboards:${doc.providers[0]!.options.path}:ro`),
      `docker-compose.yml mounts the dashboards at ${doc.providers[0]!.options.path}`,
    );
  });

  it('the datasource points at the compose Prometheus and carries the seed’s 5 s interval', () => {
    const doc = parse(
      readFileSync(join(GRAFANA, 'provisioning', 'datasources', 'prometheus.yaml'), 'utf8'),
    ) as {
      apiVersion: number;
      datasources: Array<{ url: string; access: string; jsonData: { timeInterval: string } }>;
    };
    assert.equal(doc.apiVersion, 1);
    assert.equal(doc.datasources[0]!.url, 'http://prometheus:9090');
    assert.equal(doc.datasources[0]!.access, 'proxy');
    assert.equal(doc.datasources[0]!.jsonData.timeInterval, '5s');
  });
});

/** Metric names in the README's tables, per exporter section. */
function documented(): Map<string, Set<string>> {
  const text = readFileSync(join(ROOT, 'monitoring', 'README.md'), 'utf8');
  const out = new Map<string, Set<string>>();
  let section = '';
  for (const line of text.split('\n')) {
    const h = /^### (\S+)/.exec(line);
    if (h !== null) section = h[1] as string;
    const row = /^\| `([a-z_:]+)` \| (counter|gauge|histogram) \|/.exec(line);
    if (row !== null && section !== '') {
      if (!out.has(section)) out.set(section, new Set());
      out.get(section)!.add(row[1] as string);
    }
  }
  return out;
}

async function registered(registry: {
  getMetricsAsJSON(): Promise<Array<{ name: string }>>;
}): Promise<Set<string>> {
  const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
  return new Set(names.filter((n) => !/^(process_|nodejs_)/.test(n)));
}

describe('metrics: dashboard ↔ README ↔ code', () => {
  const docs = documented();

  it('the README documents the flower-adapter’s, the MLFO’s and the traffic agent’s metrics', () => {
    assert.deepEqual([...docs.keys()], ['flower-adapter', 'MLFO', 'traffic']);
  });

  it('every metric the dashboard reads is documented (up aside)', () => {
    const all = new Set([...docs.values()].flatMap((s) => [...s]));
    for (const q of queries(dashboard)) {
      for (const name of metricNames(q.expr)) {
        if (name === 'up') continue;
        assert.ok(
          all.has(baseMetric(name)),
          `panel "${q.panel.title}" reads ${name}, not in monitoring/README.md`,
        );
      }
    }
  });

  it('the flower-adapter registers exactly the documented metrics (TCP info ones with flTargets)', async () => {
    const m = new AdapterMetrics('n', () => [], { flTargets: () => [] });
    assert.deepEqual([...(await registered(m.registry))].sort(), [...docs.get('flower-adapter')!].sort());
  });

  it('the MLFO registers exactly the documented metrics', async () => {
    const m = new MlfoMetrics('cloud');
    assert.deepEqual([...(await registered(m.registry))].sort(), [...docs.get('MLFO')!].sort());
  });

  it('the traffic agent registers exactly the documented metrics', async () => {
    const have = await registered(new AgentMetrics('app.1').registry);
    assert.deepEqual([...have].sort(), [...docs.get('traffic')!].sort());
  });

  it('every exporter names its interface counters node_network_*, as the dashboard reads them', async () => {
    const net = (names: Set<string>) => [...names].filter((n) => /network/.test(n)).sort();
    const adapter = net(await registered(new AdapterMetrics('n', () => []).registry));
    assert.deepEqual(adapter, [
      'node_network_receive_bytes_total',
      'node_network_receive_packets_total',
      'node_network_transmit_bytes_total',
      'node_network_transmit_packets_total',
    ]);
    assert.deepEqual(net(await registered(new MlfoMetrics('cloud').registry)), adapter);
    assert.deepEqual(net(await registered(new AgentMetrics('app.1').registry)), adapter);
    const read = queries(dashboard).flatMap((q) => metricNames(q.expr).filter((n) => /network/.test(n)));
    for (const n of read) assert.ok(adapter.includes(n), `the dashboard reads ${n}`);
  });
});

describe('PromQL', () => {
  it('every expression, with the variables at All (.*), passes promtool’s parser and type checks', (t) => {
    if (promtoolSkip) return t.skip(promtoolSkip);
    const qs = queries(dashboard);
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: qs.map((q, i) => ({
            record: `mlfo:dashboard:q${i}`,
            expr: substituteAll(q.expr),
          })),
        },
      ],
    };
    const file = join(dir, 'rules.yml');
    writeFileSync(file, stringify(rules));
    const r = promtool('check', 'rules', file);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, new RegExp(`SUCCESS: ${qs.length} rules found`));
    // the check is real: a type error (rate of an instant vector) fails it
    writeFileSync(file, stringify({ groups: [{ name: 'x', rules: [{ record: 'x:y', expr: 'rate(up)' }] }] }));
    assert.notEqual(promtool('check', 'rules', file).code, 0);
  });
});
