// Failure handling of a standalone MLFO (child process, real Redis, real adapters): a client node
// whose adapter comes up only after the first tries (the step retries and the intent completes),
// one whose adapter never comes up (the intent fails naming that node and nothing is left
// running), and the bearer token on mutating routes.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type StartedAdapter, spawnAdapter } from '../../flower-adapter/test/support/spawn-adapter.ts';
import { ENDED_STATES, isEnded } from '../../common/ended-states.ts';
import {
  adapterSessions,
  type MlfoProcess,
  type NodeSpec,
  type StandaloneCluster,
  startStandaloneCluster,
  postIntent,
  ROOT,
  simpleIntents,
  testNet,
  waitIntent,
} from './support/cluster.ts';

const net = testNet(3);
const TOKEN = 'test-token-123';
const auth = { authorization: `Bearer ${TOKEN}` };
const running: NodeSpec[] = [
  { name: 'fed.1', address: `${net}.101`, role: 'fl-server' },
  { name: 'fed.2', address: `${net}.102`, role: 'fl-server' },
  { name: 'fc.10', address: `${net}.10`, role: 'fl-client' },
];
const late: NodeSpec = { name: 'fc.11', address: `${net}.11`, role: 'fl-client' };
const never: NodeSpec = { name: 'fc.12', address: `${net}.12`, role: 'fl-client' };
let cluster: StandaloneCluster;
let dir: string;
let adapters: Map<string, StartedAdapter>;
let lateAdapter: StartedAdapter | undefined;
let mlfo: MlfoProcess;

before(async () => {
  cluster = await startStandaloneCluster({
    tmpName: 'mlfo-failures',
    net,
    adapterNodes: running,
    inventoryNodes: [...running, late, never],
    mlfoEnv: { MLFO_API_TOKEN: TOKEN },
    mlfoArgs: [
      '--poll-ms',
      '200',
      '--step-attempts',
      '6',
      '--step-backoff-ms',
      '300',
      '--adapter-timeout-ms',
      '2000',
      '--server-wait-s',
      '60',
    ],
  });
  ({ dir, adapters, mlfo } = cluster);
});

after(async () => {
  await cluster?.mlfo.stop();
  await lateAdapter?.stop();
  await cluster?.stop();
});

const ended = [...ENDED_STATES];

describe('standalone MLFO under failures', { timeout: 180_000 }, () => {
  it('needs the bearer token on POST /receive, DELETE and /cloudreset when MLFO_API_TOKEN is set', async () => {
    const yaml = readFileSync(join(ROOT, 'intents', 'intent.yaml'), 'utf8');
    const r = await postIntent(mlfo.url, yaml);
    assert.equal(r.status, 401);
    assert.match(String(r.body['error']), /Authorization: Bearer/);
    assert.equal((await fetch(`${mlfo.url}/intents/x.1`, { method: 'DELETE' })).status, 401);
    assert.equal((await fetch(`${mlfo.url}/cloudreset`, { method: 'POST' })).status, 401);
    assert.equal((await fetch(`${mlfo.url}/intents`)).status, 200, 'reading needs no token');
  });

  it('retries a client node that comes up late, then completes', async () => {
    const [intent] = simpleIntents(dir, 'late');
    const r = await postIntent(
      mlfo.url,
      readFileSync(intent!, 'utf8'),
      { ipstart: '11', cohortsize: '1', minfit: '1', minav: '1', numround: '2' },
      auth,
    );
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = String(r.body['id']);
    await new Promise((res) => setTimeout(res, 1000));
    lateAdapter = await spawnAdapter({
      host: late.address,
      nodeId: late.name,
      logFile: join(dir, 'fc.11.log'),
    });
    const rec = await waitIntent(() => mlfo.url, id, ended, 120_000);
    assert.equal(rec.state, 'completed', JSON.stringify(rec));
    assert.equal(rec.rounds.length, 2);
    assert.equal(
      (await adapterSessions(lateAdapter)).filter((s) => s.session.startsWith(`cli-${id}-`)).length,
      1,
    );
  });

  it('fails an intent whose client node never comes up, naming the node, and leaves nothing running', async () => {
    const [, intent] = simpleIntents(dir, 'never');
    const r = await postIntent(
      mlfo.url,
      readFileSync(intent!, 'utf8'),
      { ipstart: '10', cohortsize: '3', minfit: '3', minav: '3', numround: '2' },
      auth,
    );
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = String(r.body['id']);
    const rec = await waitIntent(() => mlfo.url, id, ended, 120_000);
    assert.equal(rec.state, 'failed');
    assert.match(rec.error ?? '', /fc\.12/);
    assert.match(rec.error ?? '', new RegExp(never.address.replaceAll('.', '\\.')));
    assert.doesNotMatch(rec.error ?? '', /client fc\.10:|client fc\.11:/, 'only the dead node is blamed');
    const all = [...adapters.values(), lateAdapter!];
    // the record turns failed before its sessions are stopped (fail() then finish()): allow the
    // cleanup a few seconds, then nothing of the intent may run
    const liveSessions = async () =>
      (await Promise.all(all.map(adapterSessions)))
        .flat()
        .filter((s) => s.session.includes(id) && !isEnded(s.state));
    let live = await liveSessions();
    for (let i = 0; i < 50 && live.length > 0; i++) {
      await new Promise((res) => setTimeout(res, 100));
      live = await liveSessions();
    }
    assert.deepEqual(live, [], 'the server and the clients that did start are stopped');
    const started = (await Promise.all(all.map(adapterSessions)))
      .flat()
      .filter((s) => s.session.includes(id));
    assert.ok(
      started.some((s) => s.role === 'server'),
      'a server had been started (and is stopped now)',
    );
  });
});
