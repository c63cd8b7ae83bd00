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
