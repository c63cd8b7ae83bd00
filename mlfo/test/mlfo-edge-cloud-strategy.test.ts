// An edge MLFO and a cloud MLFO (child processes) over real MoMo gRPC with real Redis and real
// flower-adapter processes: FedAvgM with server_momentum 0.5, given as a /receive form field on the
// edge, travels in the derived intent (MoMo field 10) to the cloud, which starts the FL server
// with it (the adapter's session status) and records where it came from.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  adapterSessions,
  type ClusterBase,
  getIntent,
  type MlfoProcess,
  type NodeSpec,
  postIntent,
  ROOT,
  simpleIntents,
  startClusterBase,
  startMlfoProcess,
  testNet,
  waitIntent,
  writeInventory,
} from './support/cluster.ts';

const net = testNet(13);
const servers: NodeSpec[] = [{ name: 'fed.1', address: `${net}.101`, role: 'fl-server' }];
const clients: NodeSpec[] = [10, 11].map((i) => ({
  name: `fc.${i}`,
  address: `${net}.${i}`,
  role: 'fl-client',
}));
const catalog = join(ROOT, 'intents', 'catalog.digits.yaml');
let base: ClusterBase;
let cloud: MlfoProcess;
let edge: MlfoProcess;

before(async () => {
  base = await startClusterBase({
    tmpName: 'mlfo-edge-cloud-strategy',
    net,
    adapterNodes: [...servers, ...clients],
  });
  const { dir, prefix, redis } = base;
  writeInventory(join(dir, 'edge-inventory.yaml'), net, clients);
  writeInventory(join(dir, 'cloud-inventory.yaml'), net, servers);
  const common = ['--redis', redis.url, '--catalog', catalog];
  cloud = await startMlfoProcess({
    host: `${net}.2`,
    intentPort: 8000,
    logFile: join(dir, 'cloud.log'),
    args: [
      '--role',
      'cloud',
      '--momo-port',
      '9000',
      ...common,
      '--inventory',
      join(dir, 'cloud-inventory.yaml'),
      '--prefix',
      `${prefix}-cloud`,
      '--server-wait-s',
      '120',
    ],
  });
  edge = await startMlfoProcess({
    host: `${net}.1`,
    intentPort: 8000,
    logFile: join(dir, 'edge.log'),
    args: [
      '--role',
      'edge',
      '--parent',
      `${net}.2:9000`,
      ...common,
      '--inventory',
      join(dir, 'edge-inventory.yaml'),
      '--prefix',
      `${prefix}-edge`,
      '--poll-ms',
      '200',
      '--step-backoff-ms',
      '200',
    ],
  });
});

after(async () => {
  await edge?.stop();
  await cloud?.stop();
  await base?.stop();
});

describe('strategy settings over MoMo (edge + cloud)', { timeout: 180_000 }, () => {
  it('FedAvgM server_momentum 0.5 from an edge form field runs on the FL server the cloud placed', async () => {
    const yaml = readFileSync(simpleIntents(base.dir)[0]!, 'utf8');
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
    const server = (await adapterSessions(base.adapters.get('fed.1')!)).find(
      (s) => s.session === `srv-${id}-fed`,
    );
    assert.ok(server, 'the cloud placed the FL server on fed.1');
    const strategy = (server as unknown as { strategy: { name: string; params: Record<string, number> } })
      .strategy;
    assert.equal(strategy.name, 'FedAvgM');
    assert.deepEqual(strategy.params, { server_learning_rate: 1, server_momentum: 0.5 });
  });
});
