// A standalone MLFO with real Redis and real flower-adapter processes on loopback: an intent
// asking for FedAvgM with server_momentum 0.5 (an intent constraint) reaches the FL server the
// adapter runs (its session status names the strategy and its settings), and GET /intents/:id says
// where each setting came from; a bad setting is a 422 at /receive and starts nothing.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  adapterSessions,
  getIntent,
  type NodeSpec,
  postIntent,
  type StandaloneCluster,
  simpleIntents,
  startStandaloneCluster,
  testNet,
  waitIntent,
} from './support/cluster.ts';

const net = testNet(11);
const nodes: NodeSpec[] = [
  { name: 'fed.1', address: `${net}.101`, role: 'fl-server' },
  ...[10, 11].map((i) => ({ name: `fc.${i}`, address: `${net}.${i}`, role: 'fl-client' as const })),
];
let cluster: StandaloneCluster;

before(async () => {
  cluster = await startStandaloneCluster({
    tmpName: 'mlfo-strategy',
    net,
    adapterNodes: nodes,
    mlfoArgs: ['--poll-ms', '200', '--step-backoff-ms', '200', '--server-wait-s', '120'],
  });
});

after(async () => {
  await cluster?.stop();
});

describe('strategy settings end to end (standalone MLFO)', { timeout: 180_000 }, () => {
  it('a bad setting is a 422 naming the field and what is allowed; nothing starts', async () => {
    const yaml = readFileSync(simpleIntents(cluster.dir)[0]!, 'utf8');
    const r = await postIntent(cluster.mlfo.url, yaml, {
      avgalgo: 'FedAvgM',
      server_momentum: '1.5',
      ipstart: '10',
      cohortsize: '2',
    });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.match(JSON.stringify(r.body), /form\.server_momentum: got 1\.5; allowed: a number in \[0, 1\)/);
    const sessions = (await Promise.all([...cluster.adapters.values()].map(adapterSessions))).flat();
    assert.deepEqual(sessions, []);
  });

  it('FedAvgM with server_momentum 0.5 from the intent runs on the FL server as such', async () => {
    const yaml = readFileSync(simpleIntents(cluster.dir)[0]!, 'utf8').replace(
      'privacylevel: high',
      'privacylevel: high\n        server_momentum: 0.5',
    );
    const r = await postIntent(cluster.mlfo.url, yaml, {
      avgalgo: 'FedAvgM',
      ipstart: '10',
      cohortsize: '2',
      minfit: '2',
      minav: '2',
      numround: '1',
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = String(r.body['id']);
    const rec = await waitIntent(() => cluster.mlfo.url, id, ['completed', 'failed'], 150_000);
    assert.equal(rec.state, 'completed', JSON.stringify(rec));
    const view = (await getIntent(cluster.mlfo.url, id)) as unknown as {
      pipeline: {
        algo: string;
        strategyParams: Record<string, number>;
        settingsSource: Record<string, string>;
      };
    };
    assert.equal(view.pipeline.algo, 'fedavgm');
    assert.deepEqual(view.pipeline.strategyParams, { server_learning_rate: 1, server_momentum: 0.5 });
    assert.equal(view.pipeline.settingsSource['algo'], 'form');
    assert.equal(view.pipeline.settingsSource['server_momentum'], 'intent');
    assert.equal(view.pipeline.settingsSource['server_learning_rate'], 'default');
    const server = (await adapterSessions(cluster.adapters.get('fed.1')!)).find((s) => s.role === 'server');
    assert.ok(server, 'the FL server session on fed.1');
    const strategy = (
      server as unknown as { strategy: { algo: string; name: string; params: Record<string, number> } }
    ).strategy;
    assert.equal(strategy.algo, 'fedavgm');
    assert.equal(strategy.name, 'FedAvgM');
    assert.deepEqual(strategy.params, { server_learning_rate: 1, server_momentum: 0.5 });
  });
});
