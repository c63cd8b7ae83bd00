// An edge MLFO and a cloud MLFO (child processes) over real MoMo gRPC, with real Redis and real
// flower-adapter processes: three cohorts [4,2,2] to completed, then the same after a kill -9 of
// the edge right after /receive answered: the restarted edge finishes every intent with exactly
// one FL server per cohort and each client started once; and after a kill -9 of the cloud right
// after it recorded a server placement: the restarted cloud places each server once. Two cohorts of
// one intent with sameserver yes train on the one FL server the cloud placed, 4 clients a round;
// FedAvgM with server_momentum 0.5, given as an edge form field, travels in the derived intent
// (MoMo field 10) to the cloud, which starts the FL server with it and records where it came from.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { StartedAdapter } from '../../flower-adapter/test/support/spawn-adapter.ts';
import { loadCohortConfig, planCohortPosts } from '../../common/intent/cohort-config.ts';
import {
  adapterSessions,
  getIntent,
  type MlfoProcess,
  type ClusterBase,
  type NodeSpec,
  startClusterBase,
  postIntent,
  ROOT,
  simpleIntents,
  startMlfoProcess,
  testNet,
  waitIntent,
  writeCohortConfig,
  writeInventory,
} from './support/cluster.ts';
import type { StartedRedis } from './support/redis.ts';

const net = testNet(2);
const servers: NodeSpec[] = [1, 2, 3].map((i) => ({
  name: `fed.${i}`,
  address: `${net}.${100 + i}`,
  role: 'fl-server',
}));
const clients: NodeSpec[] = [10, 11, 12, 13, 14, 15, 16, 17].map((i) => ({
  name: `fc.${i}`,
  address: `${net}.${i}`,
  role: 'fl-client',
}));
let base: ClusterBase;
let dir: string;
let prefix: string;
let redis: StartedRedis;
let adapters: Map<string, StartedAdapter>;
let cloud: MlfoProcess;
let edge: MlfoProcess;
const catalog = join(ROOT, 'intents', 'catalog.digits.yaml');

function startEdge(): Promise<MlfoProcess> {
  return startMlfoProcess({
    host: `${net}.1`,
    intentPort: 8000,
    logFile: join(dir, 'edge.log'),
    args: [
      '--role',
      'edge',
      '--parent',
      `${net}.2:9000`,
      '--redis',
      redis.url,
      '--inventory',
      join(dir, 'edge-inventory.yaml'),
      '--catalog',
      catalog,
      '--prefix',
      `${prefix}-edge`,
      '--poll-ms',
      '200',
      '--step-backoff-ms',
      '200',
      '--lock-ms',
      '2000',
    ],
  });
}

function startCloud(): Promise<MlfoProcess> {
  return startMlfoProcess({
    host: `${net}.2`,
    intentPort: 8000,
    logFile: join(dir, 'cloud.log'),
    args: [
      '--role',
      'cloud',
      '--momo-port',
      '9000',
      '--redis',
      redis.url,
      '--inventory',
      join(dir, 'cloud-inventory.yaml'),
      '--catalog',
      catalog,
      '--prefix',
      `${prefix}-cloud`,
      '--server-wait-s',
      '120',
    ],
  });
}

before(async () => {
  base = await startClusterBase({ tmpName: 'mlfo-edge-cloud', net, adapterNodes: [...servers, ...clients] });
  ({ dir, prefix, redis, adapters } = base);
  writeInventory(join(dir, 'edge-inventory.yaml'), net, clients);
  writeInventory(join(dir, 'cloud-inventory.yaml'), net, servers);
  cloud = await startCloud();
  edge = await startEdge();
});

after(async () => {
  await edge?.stop();
  await cloud?.stop();
  await base?.stop();
});

async function postCohorts(suffix: string): Promise<string[]> {
  const cfg = loadCohortConfig(
    writeCohortConfig(dir, simpleIntents(dir, suffix), edge.url, `${suffix}cohorts.yaml`),
  );
  const ids: string[] = [];
  for (const post of planCohortPosts(cfg)) {
    const r = await postIntent(edge.url, readFileSync(post.intentFile, 'utf8'), post.fields);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    ids.push(String(r.body['id']));
  }
  return ids;
}

async function checkCompleted(ids: string[]): Promise<void> {
  const done = await Promise.all(
    ids.map((id) => waitIntent(() => edge.url, id, ['completed', 'failed'], 180_000)),
  );
  for (const rec of done) {
    assert.equal(rec.state, 'completed', JSON.stringify(rec));
    assert.equal(rec.rounds.length, 2);
    assert.ok(rec.rounds.every((r) => typeof r.accuracy === 'number'));
    assert.match(rec.server?.address ?? '', new RegExp(`^${net.replaceAll('.', '\\.')}\\.10[123]:6000$`));
  }
  // exactly one FL server per cohort (its fixed session id, on one node), each client started once
  const serverSessions = (
    await Promise.all(servers.map((s) => adapterSessions(adapters.get(s.name)!)))
  ).flat();
  for (const rec of done) {
    const mine = serverSessions.filter((s) => s.session === `srv-${rec.id}-fed`);
    assert.equal(mine.length, 1, `${rec.id}: ${JSON.stringify(serverSessions.map((s) => s.session))}`);
    assert.equal(mine[0]!.state, 'completed');
    for (const c of rec.clients) {
      const sessions = await adapterSessions(adapters.get(c.node)!);
      assert.equal(sessions.filter((s) => s.session.startsWith(`cli-${rec.id}-`)).length, 1, c.node);
    }
  }
}

describe('edge + cloud MLFOs over MoMo', { timeout: 300_000 }, () => {
  it('take a three-cohort config [4,2,2] to completed', async () => {
    const ids = await postCohorts('a');
    await checkCompleted(ids);
    const cloudMetrics = await (await fetch(`${cloud.url}/metrics`)).text();
    assert.match(cloudMetrics, /mlfo_momo_calls_total\{role="cloud",direction="in",outcome="ok"\} 3/);
  });

  it('a kill -9 of the edge right after /receive answered: the restarted edge completes every intent once', async () => {
    const ids = await postCohorts('b');
    await edge.kill9();
    edge = await startEdge();
    await checkCompleted(ids);
    const total = (await Promise.all([...adapters.values()].map(adapterSessions))).flat();
    assert.equal(
      total.filter((s) => s.role === 'server').length,
      6,
      'two runs of three cohorts: six servers',
    );
    assert.equal(total.filter((s) => s.role === 'client').length, 16, 'two runs of 8 clients');
  });

  it('a kill -9 of the cloud during server placement: the restarted cloud completes every intent with one server each', async () => {
    const r = new Redis(redis.url);
    try {
      const ids = await postCohorts('c');
      // kill as soon as the cloud has durably recorded a placement of this run, before or while
      // it starts that FL server (the record is written before POST /serv)
      const deadline = Date.now() + 60_000;
      let placed: string[] = [];
      while (placed.length === 0 && Date.now() < deadline) {
        placed = (await r.hkeys(`${prefix}-cloud:placements`)).filter((k) => /intent0\dc\./.test(k));
        if (placed.length === 0) await new Promise((res) => setTimeout(res, 5));
      }
      assert.ok(placed.length > 0, 'the cloud recorded a placement');
      await cloud.kill9();
      const serversAtKill = (await Promise.all(servers.map((s) => adapterSessions(adapters.get(s.name)!))))
        .flat()
        .filter((s) => /intent0\dc\./.test(s.session)).length;
      cloud = await startCloud();
      await checkCompleted(ids);
      const total = (await Promise.all([...adapters.values()].map(adapterSessions))).flat();
      assert.equal(
        total.filter((s) => s.role === 'server').length,
        9,
        `three runs of three cohorts: nine servers (${serversAtKill} of this run's had started at the kill)`,
      );
      assert.equal(total.filter((s) => s.role === 'client').length, 24, 'three runs of 8 clients');
      assert.match(readFileSync(join(dir, 'cloud.log'), 'utf8'), /placed FL server srv-edgeintent0\dc\./);
    } finally {
      r.disconnect();
    }
  });

  it('sameserver yes over MoMo: two cohorts of 2 with minfit = minav = 4 share the one FL server the cloud placed', async () => {
    const yaml = readFileSync(simpleIntents(dir, 'd')[0]!, 'utf8');
    const fields = {
      sameserver: 'yes',
      cohortsize: '2',
      minfit: '4',
      minav: '4',
      numround: '2',
      fracfit: '1',
    };
    const a = await postIntent(edge.url, yaml, { ...fields, ipstart: '10' });
    const b = await postIntent(edge.url, yaml, { ...fields, ipstart: '12' });
    assert.equal(a.status, 202, JSON.stringify(a.body));
    assert.equal(b.status, 202, JSON.stringify(b.body));
    const ids = [String(a.body['id']), String(b.body['id'])];
    const done = await Promise.all(
      ids.map((id) => waitIntent(() => edge.url, id, ['completed', 'failed'], 180_000)),
    );
    for (const rec of done) {
      assert.equal(rec.state, 'completed', JSON.stringify(rec));
      assert.deepEqual(
        rec.rounds.map((r) => r.fitResults),
        [4, 4],
      );
    }
    assert.equal(done[0]!.server?.address, done[1]!.server?.address);
    assert.deepEqual(done[0]!.server?.sharedWith, [ids[1]]);
    const mine = (await Promise.all(servers.map((s) => adapterSessions(adapters.get(s.name)!))))
      .flat()
      .filter((s) => s.role === 'server' && /intent01d\./.test(s.session));
    assert.equal(mine.length, 1, JSON.stringify(mine.map((s) => s.session)));
    assert.deepEqual(
      mine[0]!.rounds?.map((r) => r.fitResults),
      [4, 4],
    );
    assert.match(
      readFileSync(join(dir, 'cloud.log'), 'utf8'),
      /shared by edgeintent01d\.\d+-fed \(sameserv yes\)/,
    );
  });

  it('FedAvgM server_momentum 0.5 from an edge form field runs on the FL server the cloud placed', async () => {
    const yaml = readFileSync(simpleIntents(dir, 'e')[0]!, 'utf8');
    const r = await postIntent(edge.url, yaml, {
      avgalgo: 'FedAvgM',
      server_momentum: '0.5',
      ipstart: '10',
      cohortsize: '2',
      minfit: '2',
      minav: '2',
      numround: '1',
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = String(r.body['id']);
    const rec = await waitIntent(() => edge.url, id, ['completed', 'failed'], 150_000);
    assert.equal(rec.state, 'completed', JSON.stringify(rec));
    const view = (await getIntent(edge.url, id)) as unknown as {
      pipeline: { strategyParams: Record<string, number>; settingsSource: Record<string, string> };
    };
    assert.deepEqual(view.pipeline.strategyParams, { server_learning_rate: 1, server_momentum: 0.5 });
    assert.equal(view.pipeline.settingsSource['server_momentum'], 'form');
    const server = (await Promise.all(servers.map((s) => adapterSessions(adapters.get(s.name)!))))
      .flat()
      .find((s) => s.session === `srv-${id}-fed`);
    assert.ok(server, 'the cloud placed the FL server on a fed node');
    const strategy = (server as unknown as { strategy: { name: string; params: Record<string, number> } })
      .strategy;
    assert.equal(strategy.name, 'FedAvgM');
    assert.deepEqual(strategy.params, { server_learning_rate: 1, server_momentum: 0.5 });
  });
});
