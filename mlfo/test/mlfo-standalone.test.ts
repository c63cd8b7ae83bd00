// A standalone MLFO (child process) with real Redis and real flower-adapter processes on loopback:
// three cohorts [4,2,2] from a seed-format cohort config to completed, the seed's curl upload,
// and every bad-input case of POST /receive (right code and message, nothing queued or started).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { StartedAdapter } from '../../flower-adapter/test/support/spawn-adapter.ts';
import { isEnded } from '../../common/ended-states.ts';
import { loadCohortConfig, planCohortPosts } from '../../common/intent/cohort-config.ts';
import {
  adapterSessions,
  getIntent,
  type MlfoProcess,
  type NodeSpec,
  type StandaloneCluster,
  startStandaloneCluster,
  postIntent,
  ROOT,
  simpleIntents,
  testNet,
  waitIntent,
  writeCohortConfig,
} from './support/cluster.ts';

const net = testNet(1);
const nodes: NodeSpec[] = [
  ...[1, 2, 3].map((i) => ({ name: `fed.${i}`, address: `${net}.${100 + i}`, role: 'fl-server' as const })),
  ...[10, 11, 12, 13, 14, 15, 16, 17].map((i) => ({
    name: `fc.${i}`,
    address: `${net}.${i}`,
    role: 'fl-client' as const,
  })),
];
let cluster: StandaloneCluster;
let dir: string;
let adapters: Map<string, StartedAdapter>;
let mlfo: MlfoProcess;

before(async () => {
  cluster = await startStandaloneCluster({
    tmpName: 'mlfo-standalone',
    net,
    adapterNodes: nodes,
    mlfoArgs: ['--poll-ms', '200', '--step-backoff-ms', '200', '--server-wait-s', '120'],
  });
  ({ dir, adapters, mlfo } = cluster);
});

after(async () => {
  await cluster?.stop();
});

describe('standalone MLFO', { timeout: 240_000 }, () => {
  it('takes a three-cohort config [4,2,2] to completed with rounds and accuracy', async () => {
    const intents = simpleIntents(dir);
    const cfg = loadCohortConfig(writeCohortConfig(dir, intents, mlfo.url));
    const ids: string[] = [];
    for (const post of planCohortPosts(cfg)) {
      const r = await postIntent(mlfo.url, readFileSync(post.intentFile, 'utf8'), post.fields);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.equal(r.body['state'], 'accepted');
      assert.match(String((r.body['links'] as { self: string }).self), /^\/intents\//);
      ids.push(String(r.body['id']));
    }
    const done = await Promise.all(
      ids.map((id) => waitIntent(() => mlfo.url, id, ['completed', 'failed'], 180_000)),
    );
    for (const rec of done) {
      assert.equal(rec.state, 'completed', JSON.stringify(rec));
      assert.equal(rec.rounds.length, 2);
      assert.ok(
        rec.rounds.every((r) => typeof r.accuracy === 'number'),
        JSON.stringify(rec.rounds),
      );
      assert.ok(typeof rec.accuracy === 'number' && rec.accuracy > 0.5, `accuracy ${rec.accuracy}`);
      for (const s of ['accepted', 'resolved', 'server-ready', 'clients-started', 'training', 'completed']) {
        assert.ok(rec.stages[s], `stage ${s} recorded`);
      }
    }
    assert.deepEqual(
      done.map((r) => r.clients.map((c) => c.node)),
      [
        ['fc.10', 'fc.11', 'fc.12', 'fc.13'],
        ['fc.14', 'fc.15'],
        ['fc.16', 'fc.17'],
      ],
    );
    // one FL server per cohort, each on its own node; each client started once
    const servers = (
      await Promise.all([1, 2, 3].map((i) => adapterSessions(adapters.get(`fed.${i}`)!)))
    ).flat();
    assert.equal(servers.filter((s) => s.role === 'server').length, 3);
    for (const rec of done) {
      for (const c of rec.clients) {
        const sessions = await adapterSessions(adapters.get(c.node)!);
        assert.equal(sessions.filter((s) => s.session === c.session).length, 1);
        assert.equal(sessions.length, 1, `${c.node} runs only its own client`);
      }
    }
    const metrics = await (await fetch(`${mlfo.url}/metrics`)).text();
    assert.match(metrics, /mlfo_intents_total\{role="standalone",outcome="completed"\} 3/);
    assert.match(metrics, /mlfo_stage_seconds_count\{role="standalone",stage="server-ready"\} 3/);
    assert.match(metrics, /mlfo_intent_accuracy\{intent="edgeintent01"/);
    const list = (await (await fetch(`${mlfo.url}/intents`)).json()) as { intents: unknown[] };
    assert.equal(list.intents.length, 3);
  });

  it('accepts the seed upload `curl -F file=@intents/intent.yaml`, answers a repeat with it (200), refuses an overlapping range (409), and DELETE stops it', async () => {
    const exec = promisify(execFile);
    const form = { ipstart: '10', cohortsize: '2', numround: '1' };
    const { stdout } = await exec('curl', [
      '-sS',
      '-w',
      '\n%{http_code}',
      '-F',
      `file=@${join(ROOT, 'intents', 'intent.yaml')}`,
      ...Object.entries(form).flatMap(([k, v]) => ['-F', `${k}=${v}`]),
      `${mlfo.url}/receive`,
    ]);
    const [body, code] = stdout.split('\n');
    assert.equal(code, '202', stdout);
    const id = String((JSON.parse(body!) as { id: string }).id);
    assert.match(id, /^edgeintent01\.\d+$/);
    const yaml = readFileSync(join(ROOT, 'intents', 'intent.yaml'), 'utf8');
    const again = await postIntent(mlfo.url, yaml, form);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body['id'], id);
    assert.equal(again.body['repeated'], true);
    const overlap = await postIntent(mlfo.url, yaml, { ...form, ipstart: '11' });
    assert.equal(overlap.status, 409, JSON.stringify(overlap.body));
    assert.match(
      String(overlap.body['error']),
      new RegExp(`client nodes fc\\.11 \\(held by intent ${id.replace('.', '\\.')}\\)`),
    );
    const otherSettings = await postIntent(mlfo.url, yaml, { ...form, numround: '3' });
    assert.equal(otherSettings.status, 409, JSON.stringify(otherSettings.body));
    assert.match(
      String(otherSettings.body['error']),
      /active on the same cohort with other settings: numround 3 \(theirs 1\)/,
    );
    const list = (await (await fetch(`${mlfo.url}/intents`)).json()) as { intents: Array<{ id: string }> };
    assert.equal(
      list.intents.filter((i) => i.id.startsWith('edgeintent01.')).length,
      2,
      'no record (and so no session) for the refused or repeated uploads: the first test run and this one',
    );
    const del = await fetch(`${mlfo.url}/intents/${id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    const rec = await getIntent(mlfo.url, id);
    assert.equal(rec.state, 'stopped');
    // give a step that was in flight time to finish; nothing of this intent may keep running
    await new Promise((r) => setTimeout(r, 1500));
    for (const a of adapters.values()) {
      const live = (await adapterSessions(a)).filter((s) => s.session.includes(id) && !isEnded(s.state));
      assert.deepEqual(live, [], `${a.nodeId} still runs ${JSON.stringify(live)}`);
    }
  });

  it('rejects bad input with the right status and message, stays up, queues and starts nothing', async () => {
    const good = readFileSync(join(ROOT, 'intents', '2intent.yaml'), 'utf8');
    const bomb = `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nintentID: x\n`;
    const cases: Array<{
      name: string;
      yaml?: string;
      fields?: Record<string, string>;
      raw?: { type: string; body: string };
      status: number;
      message: RegExp;
    }> = [
      { name: 'not YAML', yaml: 'intentID: [unclosed\n', status: 400, message: /not valid YAML/ },
      { name: 'alias bomb', yaml: bomb, status: 400, message: /alias/ },
      {
        name: 'over 1 MB',
        yaml: `# ${'x'.repeat(1024 * 1024 + 10)}\n${good}`,
        status: 413,
        message: /at most 1048576 bytes/,
      },
      {
        name: 'missing intentID',
        yaml: good.replace(/intentID:.*\n/, ''),
        status: 422,
        message: /intentID: missing/,
      },
      { name: 'missing targets', yaml: 'intentID: x1\n', status: 422, message: /targets: missing/ },
      {
        name: 'targets of the wrong type',
        yaml: 'intentID: x1\ntargets: 3\n',
        status: 422,
        message: /targets: got number 3; expected a list/,
      },
      {
        name: 'unknown operand',
        yaml: good.replace('robots.drilling.accuracy', 'robots.painting.accuracy'),
        status: 422,
        message: /known operation\/operand pairs: maximise robots\.welding\.accuracy/,
      },
      {
        name: 'unknown operation',
        yaml: good.replace('maximise', 'minimise'),
        status: 422,
        message: /no pipeline in catalog/,
      },
      {
        name: 'privacylevel low',
        yaml: good.replace('privacylevel: high', 'privacylevel: low'),
        status: 422,
        message: /only federated-learning pipelines exist here/,
      },
      {
        name: 'fracfit out of range',
        yaml: good.replace('privacylevel: high', 'privacylevel: high\n        fracfit: 1.5'),
        status: 422,
        message: /fracfit: got "1\.5"; allowed: a number in \(0, 1\]/,
      },
      {
        name: 'form minfit out of range',
        yaml: good,
        fields: { minfit: '0' },
        status: 422,
        message: /form\.minfit|minfit/,
      },
      {
        name: 'ipstart naming no fl-client node',
        yaml: good,
        fields: { ipstart: '200', cohortsize: '2' },
        status: 422,
        message: /\.200 and .*\.201 are not fl-client nodes|are not fl-client nodes/,
      },
      {
        name: 'ipstart naming an fl-server node',
        yaml: good,
        fields: { ipstart: '101', cohortsize: '1' },
        status: 422,
        message: /fed\.1 is fl-server/,
      },
      {
        name: 'wrong content type',
        raw: { type: 'text/plain', body: good },
        status: 415,
        message: /allowed: multipart\/form-data/,
      },
      {
        name: 'multipart without file',
        yaml: undefined,
        fields: { numround: '2' },
        status: 400,
        message: /no field "file"/,
      },
    ];
    const rejected = async () =>
      Number(
        /mlfo_intents_total\{role="standalone",outcome="rejected"\} (\d+)/.exec(
          await (await fetch(`${mlfo.url}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    const rejectedBefore = await rejected();
    const before = ((await (await fetch(`${mlfo.url}/intents`)).json()) as { intents: unknown[] }).intents
      .length;
    const sessionsBefore = (await Promise.all([...adapters.values()].map(adapterSessions))).flat().length;
    for (const c of cases) {
      let status: number;
      let body: Record<string, unknown>;
      if (c.raw) {
        const r = await fetch(`${mlfo.url}/receive`, {
          method: 'POST',
          headers: { 'content-type': c.raw.type },
          body: c.raw.body,
        });
        status = r.status;
        body = (await r.json()) as Record<string, unknown>;
      } else if (c.yaml === undefined) {
        const form = new FormData();
        for (const [k, v] of Object.entries(c.fields ?? {})) form.set(k, v);
        const r = await fetch(`${mlfo.url}/receive`, { method: 'POST', body: form });
        status = r.status;
        body = (await r.json()) as Record<string, unknown>;
      } else {
        ({ status, body } = await postIntent(mlfo.url, c.yaml, c.fields));
      }
      assert.equal(status, c.status, `${c.name}: ${JSON.stringify(body).slice(0, 500)}`);
      assert.match(String(body['error']), c.message, c.name);
    }
    // a raw YAML body is accepted too (then stopped at once)
    const raw = await fetch(`${mlfo.url}/receive?numround=1&cohortsize=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: good.replace('edgeintent02', 'rawintent'),
    });
    assert.equal(raw.status, 202);
    const rawId = String(((await raw.json()) as { id: string }).id);
    await fetch(`${mlfo.url}/intents/${rawId}`, { method: 'DELETE' });
    assert.equal((await fetch(`${mlfo.url}/healthz`)).status, 200);
    const afterList = ((await (await fetch(`${mlfo.url}/intents`)).json()) as { intents: unknown[] }).intents
      .length;
    assert.equal(afterList, before + 1, 'only the raw-YAML intent was recorded');
    assert.equal(await rejected(), rejectedBefore + cases.length);
    await new Promise((r) => setTimeout(r, 1000));
    const live = (await Promise.all([...adapters.values()].map(adapterSessions)))
      .flat()
      .filter((s) => s.session.includes(rawId) && !isEnded(s.state));
    assert.deepEqual(live, []);
    const sessionsAfter = (await Promise.all([...adapters.values()].map(adapterSessions)))
      .flat()
      .filter((s) => !s.session.includes(rawId));
    assert.equal(sessionsAfter.length, sessionsBefore, 'the rejected uploads started no session');
  });
});
