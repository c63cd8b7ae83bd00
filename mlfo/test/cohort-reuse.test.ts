// One intent file for several cohorts, on a standalone MLFO with real Redis and real
// flower-adapters: the seed's cohortdistr [10,10,10] × 3intent.yaml scaled to [4,4,4], posted as the
// seed's sendintent.py posts it (multipart, every field a string) and through our sendintent CLI,
// deploys three cohorts with a server each; sameserver yes puts two cohorts of 2 on one FL server
// whose rounds have all 4 clients; a cohort whose settings contradict the server it would share is
// a 422 naming them.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StartedAdapter } from '../../flower-adapter/test/support/spawn-adapter.ts';
import {
  adapterSessions,
  getIntent,
  type IntentView,
  type MlfoProcess,
  type NodeSpec,
  postIntent,
  runSendintent,
  type StandaloneCluster,
  simpleIntents,
  startStandaloneCluster,
  testNet,
  waitIntent,
} from './support/cluster.ts';

const net = testNet(7);
const servers: NodeSpec[] = [1, 2, 3].map((i) => ({
  name: `fed.${i}`,
  address: `${net}.${100 + i}`,
  role: 'fl-server' as const,
}));
const clientNodes: NodeSpec[] = Array.from({ length: 12 }, (_, k) => ({
  name: `fc.${10 + k}`,
  address: `${net}.${10 + k}`,
  role: 'fl-client' as const,
}));
let cluster: StandaloneCluster;
let dir: string;
let adapters: Map<string, StartedAdapter>;
let mlfo: MlfoProcess;
let cutting: string;

before(async () => {
  cluster = await startStandaloneCluster({
    tmpName: 'mlfo-cohort-reuse',
    net,
    adapterNodes: [...servers, ...clientNodes],
    mlfoArgs: ['--poll-ms', '200', '--step-backoff-ms', '200', '--server-wait-s', '120'],
  });
  ({ dir, adapters, mlfo } = cluster);
  cutting = simpleIntents(dir)[2]!;
});

after(async () => {
  await cluster?.stop();
});

/** The fields the seed's sendintent.py posts for cohort i of [4,4,4]: all strings, ipstart from 10. */
function seedFields(i: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ipstart: String(10 + 4 * i),
    cohortsize: '4',
    sameserver: 'no',
    avgalgo: 'FedAvg',
    fracfit: '1',
    minfit: '4',
    minav: '4',
    numround: '2',
    ...extra,
  };
}

async function serverSessions(idPart: string) {
  const all = (await Promise.all(servers.map((s) => adapterSessions(adapters.get(s.name)!)))).flat();
  return all.filter((s) => s.role === 'server' && s.session.includes(idPart));
}

async function allCompleted(ids: string[]): Promise<IntentView[]> {
  const done = await Promise.all(
    ids.map((id) => waitIntent(() => mlfo.url, id, ['completed', 'failed', 'stopped'], 180_000)),
  );
  for (const rec of done) {
    assert.equal(rec.state, 'completed', JSON.stringify(rec));
    assert.equal(rec.rounds.length, 2);
  }
  return done;
}

describe('one intent file for several cohorts', { timeout: 600_000 }, () => {
  it('the seed config [4,4,4] × 3intent.yaml as plain multipart POSTs: three deployments, each with its own server', async () => {
    const yaml = readFileSync(cutting, 'utf8');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await postIntent(mlfo.url, yaml, seedFields(i));
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.equal(r.body['intentID'], 'edgeintent03');
      ids.push(String(r.body['id']));
    }
    assert.deepEqual(ids, ['edgeintent03.1', 'edgeintent03.2', 'edgeintent03.3']);
    const done = await allCompleted(ids);
    assert.deepEqual(
      done.map((d) => d.clients.map((c) => c.node)),
      [0, 1, 2].map((i) => [0, 1, 2, 3].map((k) => `fc.${10 + 4 * i + k}`)),
    );
    const sessions = await serverSessions('edgeintent03.');
    assert.deepEqual(sessions.map((s) => s.session).sort(), ids.map((id) => `srv-${id}-fed`).sort());
    const addresses = new Set(done.map((d) => d.server?.address));
    assert.equal(addresses.size, 3, `three servers on three nodes: ${[...addresses].join(', ')}`);
    for (const d of done) assert.deepEqual(d.server?.sharedWith, [], d.id);
  });

  it('the same config through sendintent: every cohort accepted with its own server, a rerun answered with the active ones', async () => {
    const file = join(dir, 'cohorts-444.yaml');
    writeFileSync(
      file,
      [
        `mlfoadd: ${mlfo.url}/receive`,
        'timegap: 0',
        'cohortdistr: [4, 4, 4]',
        `intentdist: [${cutting}, ${cutting}, ${cutting}]`,
        'sameserverdist: [nor, "no", "no"]',
        'avgalgodist: [FedAvg, FedAvg, FedAvg]',
        'fracfitdist: ["1", "1", "1"]',
        'minfitdist: ["4", "4", "4"]',
        'minavdist: ["4", "4", "4"]',
        'numrounddist: ["2", "2", "2"]',
        '',
      ].join('\n'),
    );
    const r = await runSendintent(['--config', file]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    for (const [i, range] of ['10–13', '14–17', '18–21'].entries()) {
      assert.match(
        r.stdout,
        new RegExp(
          `\\n${i}\\s+\\S+3intent\\.yaml\\s+edgeintent03\\.${4 + i}\\s+${range} \\(4\\)\\s+accepted\\s+own\\n`,
        ),
      );
    }
    assert.match(r.stdout, /3 accepted, 0 rejected/);
    const again = await runSendintent(['--config', file]);
    assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
    assert.match(
      again.stdout,
      /\n0\s+\S+3intent\.yaml\s+edgeintent03\.4\s+10–13 \(4\)\s+\S+ \(already active: nothing started\)/,
    );
    const done = await allCompleted(['edgeintent03.4', 'edgeintent03.5', 'edgeintent03.6']);
    assert.equal(new Set(done.map((d) => d.server?.address)).size, 3);
    assert.equal((await serverSessions('edgeintent03.')).length, 6, 'two runs of three servers');
  });

  it('sameserver yes: cohorts of 2 and 2 with minfit = minav = 4 train on one FL server, 4 clients a round', async () => {
    const yaml = readFileSync(cutting, 'utf8');
    const shared = { sameserver: 'yes', cohortsize: '2', minfit: '4', minav: '4' };
    const a = await postIntent(mlfo.url, yaml, seedFields(0, { ...shared, ipstart: '10' }));
    assert.equal(a.status, 202, JSON.stringify(a.body));
    const b = await postIntent(mlfo.url, yaml, seedFields(0, { ...shared, ipstart: '12' }));
    assert.equal(b.status, 202, JSON.stringify(b.body));
    assert.deepEqual(b.body['sharesServerWith'], [a.body['id']]);
    // a third cohort of the same dataset, model and strategy that contradicts the shared server
    const c = await postIntent(mlfo.url, yaml, seedFields(0, { ...shared, ipstart: '14', minav: '5' }));
    assert.equal(c.status, 422, JSON.stringify(c.body));
    assert.match(
      String(c.body['error']),
      /form\.sameserver: sameserv yes would share the FL server of intent edgeintent03\.7 .*minav 5 \(theirs 4\)/,
    );
    const ids = [String(a.body['id']), String(b.body['id'])];
    const done = await allCompleted(ids);
    assert.equal(done[0]!.server?.address, done[1]!.server?.address);
    assert.deepEqual(done[0]!.server?.sharedWith, [ids[1]]);
    assert.deepEqual(done[1]!.server?.sharedWith, [ids[0]]);
    const sessions = await serverSessions(`${ids[0]}-fed`);
    assert.equal(sessions.length, 1, JSON.stringify(sessions));
    assert.equal((await serverSessions(`${ids[1]}-fed`)).length, 0, 'no server of its own for the second');
    assert.deepEqual(
      sessions[0]!.rounds?.map((r) => r.fitResults),
      [4, 4],
    );
    for (const d of done)
      assert.deepEqual(
        d.rounds.map((r) => r.fitResults),
        [4, 4],
      );
    const view = await getIntent(mlfo.url, ids[1]!);
    assert.equal(view.server?.session, `srv-${ids[0]}-fed`);
  });
});
