// The REST API's answers to bad input: every case is a 400 that names the field and what is
// allowed, and starts nothing. Runs the real app and registry in-process on port 0.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdapterMetrics } from '../src/metrics.ts';
import { createApp } from '../src/rest/app.ts';
import { SessionRegistry } from '../src/sessions/session-registry.ts';
import { TsRuntime } from '../src/sessions/ts-runtime.ts';

let server: Server;
let base: string;
let registry: SessionRegistry;
const dataDir = mkdtempSync(join(tmpdir(), 'mlfo-rest-'));

before(async () => {
  const metrics = new AdapterMetrics('test-node', () => registry.list().map((s) => s.gauges()));
  registry = new SessionRegistry(new TsRuntime(), {
    nodeId: 'test-node',
    host: '127.0.0.1',
    advertiseHost: '127.0.0.1',
    flPort: 0,
    dataDir,
    metrics,
    log: () => {},
  });
  const app = createApp({ registry, metrics, nodeId: 'test-node', startedAt: new Date() });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await registry.reset();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dataDir, { recursive: true, force: true });
});

async function postForm(path: string, fields: Record<string, string>) {
  const r = await fetch(base + path, { method: 'POST', body: new URLSearchParams(fields) });
  return {
    status: r.status,
    body: (await r.json()) as { error?: string; problems?: Array<{ field: string; message: string }> },
  };
}

const goodServ = { algo: 'fedavg', fracfit: '0.5', minfit: '2', minav: '3', numround: '5' };
const goodCli = { source: 'handmnist', model: 'simple', server: '127.0.0.1:6000', cohsize: '4', part: '1' };

const servCases: Array<[string, Record<string, string>, string, RegExp]> = [
  ['fracfit 0', { fracfit: '0' }, 'fracfit', /\(0, 1\]/],
  ['fracfit above 1', { fracfit: '1.5' }, 'fracfit', /\(0, 1\]/],
  ['fracfit not a number', { fracfit: 'half' }, 'fracfit', /a number/],
  ['minfit 0', { minfit: '0' }, 'minfit', /integer/],
  ['minfit not an integer', { minfit: '2.5' }, 'minfit', /integer/],
  ['minav 0', { minav: '0' }, 'minav', /integer/],
  ['minav not an integer', { minav: 'x' }, 'minav', /integer/],
  ['minfit > minav', { minfit: '4', minav: '3' }, 'minfit', /minfit ≤ minav/],
  ['numround 0', { numround: '0' }, 'numround', /\[1, 10000\]/],
  ['numround 10001', { numround: '10001' }, 'numround', /\[1, 10000\]/],
  ['unknown algo', { algo: 'fedsgd' }, 'algo', /allowed: fedavg/],
  ['unknown model', { model: 'resnet', source: 'handmnist' }, 'model', /simple, complex/],
  ['unknown source', { model: 'simple', source: 'imagenet' }, 'source', /handmnist/],
  ['unknown field', { numrounds: '5' }, 'numrounds', /unknown field/],
  ['roundtimeout negative', { roundtimeout: '-1' }, 'roundtimeout', /\(0, 86400\]/],
  ['missing dataset', { model: 'simple', source: 'fashionmnist' }, 'source', /train-images-idx3-ubyte/],
  // per-strategy settings (Flower's parameter names) and their combinations
  [
    'fedavgm momentum 1',
    { algo: 'FedAvgM', server_momentum: '1' },
    'server_momentum',
    /allowed: a number in \[0, 1\)/,
  ],
  ['fedavgm lr 0', { algo: 'fedavgm', server_learning_rate: '0' }, 'server_learning_rate', /\(0, 1000\]/],
  [
    'a setting of another strategy',
    { server_momentum: '0.9' },
    'server_momentum',
    /not a setting of algo fedavg; it is one of fedavgm; fedavg takes no settings of its own/,
  ],
  ['fedprox without proximal_mu', { algo: 'FedProx' }, 'proximal_mu', /missing \(required, no default\)/],
  ['fedprox negative mu', { algo: 'fedprox', proximal_mu: '-1' }, 'proximal_mu', /≥ 0|\[0, /],
  [
    'fedadagrad beta_1',
    { algo: 'fedadagrad', beta_1: '0.9' },
    'beta_1',
    /one of fedadam, fedyogi; fedadagrad takes eta, eta_l, tau/,
  ],
  ['fedadam beta_2 1', { algo: 'fedadam', beta_2: '1' }, 'beta_2', /\[0, 1\)/],
  ['fedyogi eta not a number', { algo: 'FedYogi', eta: 'fast' }, 'eta', /a number/],
  ['trimmed beta 0.5', { algo: 'FedTrimmedAvg', beta: '0.5' }, 'beta', /\[0, 0.5\)/],
  [
    'krum with too few clients',
    { algo: 'Krum', num_malicious_clients: '1' },
    'num_malicious_clients',
    /more than 2·1\+2 = 4 clients per round, but minfit is 2/,
  ],
  [
    'krum f not an integer',
    { algo: 'krum', num_malicious_clients: '0.5' },
    'num_malicious_clients',
    /an integer/,
  ],
  [
    'multikrum keeping too many',
    { algo: 'MultiKrum', minfit: '5', minav: '5', num_malicious_clients: '1', num_clients_to_keep: '5' },
    'num_clients_to_keep',
    /more than minfit − num_malicious_clients = 4/,
  ],
  [
    'multikrum without keep',
    { algo: 'multikrum', minfit: '3', minav: '3' },
    'num_clients_to_keep',
    /missing/,
  ],
  [
    'bulyan with too few clients',
    { algo: 'Bulyan', minfit: '6', minav: '6', num_malicious_clients: '1' },
    'num_malicious_clients',
    /at least 4·1\+3 = 7 clients per round, but minfit is 6/,
  ],
  ['qfedavg without server-side evaluation', { algo: 'QFedAvg' }, 'algo', /give model and source/],
  ['qfedavg q negative', { algo: 'qfedavg', q_param: '-1' }, 'q_param', /\[0, 1000\]/],
  [
    'completion rate above 1',
    { algo: 'FaultTolerantFedAvg', min_completion_rate_fit: '1.5' },
    'min_completion_rate_fit',
    /\[0, 1\]/,
  ],
  [
    'faulttolerantfedavg refusing failures',
    { algo: 'faulttolerantfedavg', acceptfailures: 'false' },
    'acceptfailures',
    /always accepts failures/,
  ],
  [
    'central DP without noise_multiplier',
    { clipping_norm: '1', num_sampled_clients: '3' },
    'noise_multiplier',
    /missing/,
  ],
  [
    'central DP clipping_norm 0',
    { clipping_norm: '0', noise_multiplier: '1', num_sampled_clients: '3' },
    'clipping_norm',
    /allowed: a number in \(0, /,
  ],
  [
    'central DP num_sampled_clients 0',
    { clipping_norm: '1', noise_multiplier: '1', num_sampled_clients: '0' },
    'num_sampled_clients',
    /integer/,
  ],
];

const cliCases: Array<[string, Record<string, string | undefined>, string, RegExp]> = [
  ['part = cohsize', { part: '4' }, 'part', /less than cohsize/],
  ['part > cohsize', { part: '9' }, 'part', /less than cohsize/],
  ['cohsize 0', { cohsize: '0' }, 'cohsize', /integer/],
  ['cohsize missing', { cohsize: undefined }, 'cohsize', /missing/],
  ['part negative', { part: '-1' }, 'part', /integer/],
  ['server without port', { server: '10.0.0.101' }, 'server', /host:port/],
  ['server bad port', { server: '10.0.0.101:70000' }, 'server', /host:port/],
  ['server bad ip', { server: '10.0.0.999:6000' }, 'server', /host:port/],
  ['server missing', { server: undefined }, 'server', /missing/],
  ['unknown source', { source: 'imagenet' }, 'source', /handmnist, fashionmnist, cifar/],
  ['unknown model', { model: 'resnet' }, 'model', /simple, complex/],
  ['missing dataset files', { source: 'cifar' }, 'source', /data_batch_1\.bin/],
];

describe('POST /serv rejects bad input with 400 and starts nothing', () => {
  for (const [name, patch, field, allowed] of servCases) {
    it(name, async () => {
      const r = await postForm('/serv', { ...goodServ, ...patch });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      const p = r.body.problems?.find((x) => x.field === field);
      assert.ok(p, `a problem names ${field}: ${JSON.stringify(r.body)}`);
      assert.match(p.message, allowed);
    });
  }
});

describe('POST /cli rejects bad input with 400 and starts nothing', () => {
  for (const [name, patch, field, allowed] of cliCases) {
    it(name, async () => {
      const fields: Record<string, string> = {};
      for (const [k, v] of Object.entries({ ...goodCli, ...patch })) if (v !== undefined) fields[k] = v;
      const r = await postForm('/cli', fields);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      const p = r.body.problems?.find((x) => x.field === field);
      assert.ok(p, `a problem names ${field}: ${JSON.stringify(r.body)}`);
      assert.match(p.message, allowed);
    });
  }
});

describe('after every rejected request', () => {
  it('no session exists', async () => {
    const r = await fetch(`${base}/status`);
    const body = (await r.json()) as { sessions: unknown[] };
    assert.deepEqual(body.sessions, []);
  });
  it('malformed JSON is a 400 naming the body', async () => {
    const r = await fetch(`${base}/serv`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"fracfit": ',
    });
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { error: string }).error, /request body/);
  });
  it('an unknown session is a 404 for GET and DELETE', async () => {
    assert.equal((await fetch(`${base}/sessions/nope`)).status, 404);
    assert.equal((await fetch(`${base}/sessions/nope`, { method: 'DELETE' })).status, 404);
  });
});

describe('JSON bodies', () => {
  it('accepts numbers as numbers and reports every bad field at once', async () => {
    const r = await fetch(`${base}/serv`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ fracfit: 2, minfit: 0, numround: 5 }),
    });
    assert.equal(r.status, 400);
    const body = (await r.json()) as { problems: Array<{ field: string }> };
    assert.deepEqual(body.problems.map((p) => p.field).sort(), ['fracfit', 'minfit']);
  });
});

describe('a strategy and its settings in the session status', () => {
  after(async () => {
    await registry.reset();
  });
  it('FedAvgM (Flower spelling) with server_momentum and central DP: 201, and the status shows all of it', async () => {
    const r = await postForm('/serv', {
      ...goodServ,
      algo: 'FedAvgM',
      server_momentum: '0.9',
      clipping_norm: '2',
      noise_multiplier: '0.5',
      num_sampled_clients: '4',
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = (r.body as { session: string }).session;
    const st = (await (await fetch(`${base}/sessions/${id}`)).json()) as {
      strategy: unknown;
      params: { algo: string };
    };
    assert.equal(st.params.algo, 'fedavgm');
    assert.deepEqual(st.strategy, {
      algo: 'fedavgm',
      name: 'DifferentialPrivacyServerSideFixedClipping(FedAvgM)',
      params: { server_learning_rate: 1, server_momentum: 0.9 },
      centralDp: { clippingNorm: 2, noiseMultiplier: 0.5, numSampledClients: 4, noiseStdDev: 0.25 },
    });
  });
});
