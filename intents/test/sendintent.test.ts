// The sendintent CLI (bin/sendintent.mjs) as a child process against a real standalone MLFO (child
// process, real Redis, real flower-adapters): a bad cohort config is refused before anything is
// sent, a [2,1] config is posted as the seed did and printed as a table, a second post of the
// still-active intents is answered with them (nothing started), a post whose client range is
// taken is rejected with the MLFO's 409 and a non-zero exit, and --follow ends in a summary of
// completed cohorts.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StartedAdapter } from '../../flower-adapter/test/support/spawn-adapter.ts';
import {
  adapterSessions,
  type MlfoProcess,
  type NodeSpec,
  type StandaloneCluster,
  startStandaloneCluster,
  runSendintent,
  simpleIntents,
  testNet,
  waitIntent,
} from '../../mlfo/test/support/cluster.ts';

const net = testNet(4);
const nodes: NodeSpec[] = [
  { name: 'fed.1', address: `${net}.101`, role: 'fl-server' },
  { name: 'fed.2', address: `${net}.102`, role: 'fl-server' },
  ...[10, 11, 12].map((i) => ({ name: `fc.${i}`, address: `${net}.${i}`, role: 'fl-client' as const })),
];
let cluster: StandaloneCluster;
let dir: string;
let adapters: Map<string, StartedAdapter>;
let mlfo: MlfoProcess;

before(async () => {
  cluster = await startStandaloneCluster({
    tmpName: 'mlfo-sendintent',
    net,
    adapterNodes: nodes,
    mlfoArgs: ['--poll-ms', '200', '--step-backoff-ms', '200', '--server-wait-s', '120'],
  });
  ({ dir, adapters, mlfo } = cluster);
});

after(async () => {
  await cluster?.stop();
});

/** A [2,1] config in the seed's format whose mlfoadd is wrong on purpose: --mlfo must override it. */
function writeConfig(suffix: string, extra: string[] = []): string {
  const intents = simpleIntents(dir, suffix).slice(0, 2);
  const file = join(dir, `${suffix}cohorts.yaml`);
  writeFileSync(
    file,
    [
      'mlfoadd: http://127.0.0.1:1/receive',
      'timegap: 0.2',
      'cohortdistr: [2, 1]',
      `intentdist: [${intents.join(', ')}]`,
      'sameserverdist: [nor, "no"]',
      'fracfitdist: ["1", "1"]',
      'minfitdist: ["2", "1"]',
      'minavdist: ["2", "1"]',
      'numrounddist: ["2", "2"]',
      ...extra,
      '',
    ].join('\n'),
  );
  return file;
}

const intentCount = async () =>
  ((await (await fetch(`${mlfo.url}/intents`)).json()) as { intents: unknown[] }).intents.length;

describe('sendintent CLI', { timeout: 240_000 }, () => {
  it('refuses a bad config before sending anything, naming the file and the key', async () => {
    const file = writeConfig('bad', ['avgalgodist: [FedAvg]']);
    const r = await runSendintent(['--config', file, '--mlfo', mlfo.url]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${file.replaceAll('.', '\\.')}:\\d+:\\d+: avgalgodist: has 1 value`));
    assert.match(r.stderr, /nothing was sent/);
    assert.equal(r.stdout, '');
    assert.equal(await intentCount(), 0, "the MLFO's intent list stays empty");
  });

  it('posts one intent per cohort as the seed did and prints each outcome; a repeat is answered with the active ones, a taken range is rejected (409)', async () => {
    // five rounds, so that the cohorts are still training when the later posts arrive
    const file = writeConfig('a');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('numrounddist: ["2", "2"]', 'numrounddist: ["5", "5"]'),
    );
    const r = await runSendintent(['--config', file, '--mlfo', mlfo.url]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`posting 2 intents to ${mlfo.url.replaceAll('.', '\\.')}/receive`));
    assert.match(r.stdout, /cohort\s+intent file\s+id\s+clients\s+state\s+FL server/);
    assert.match(r.stdout, /\n0\s+\S+aintent\.yaml\s+edgeintent01a\.1\s+10–11 \(2\)\s+accepted\s+own\n/);
    assert.match(r.stdout, /\n1\s+\S+a2intent\.yaml\s+edgeintent02a\.1\s+12 \(1\)\s+accepted\s+own\n/);
    assert.match(r.stdout, /2 accepted, 0 rejected/);
    const again = await runSendintent(['--config', file, '--mlfo', mlfo.url]);
    assert.equal(again.code, 0, again.stdout);
    assert.match(
      again.stdout,
      /\n0\s+\S+aintent\.yaml\s+edgeintent01a\.1\s+10–11 \(2\)\s+\S+ \(already active: nothing started\)/,
    );
    assert.match(
      again.stdout,
      /\n1\s+\S+a2intent\.yaml\s+edgeintent02a\.1\s+12 \(1\)\s+\S+ \(already active: nothing started\)/,
    );
    assert.match(again.stdout, /2 accepted, 0 rejected/);
    // another intent on the clients the first cohort holds
    const taken = writeConfig('t');
    writeFileSync(taken, readFileSync(taken, 'utf8').replace('cohortdistr: [2, 1]', 'cohortdistr: [1, 1]'));
    const refused = await runSendintent(['--config', taken, '--mlfo', mlfo.url]);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(
      refused.stderr,
      /cohort 0 \(\S+tintent\.yaml\) rejected: HTTP 409: client nodes fc\.10 \(held by intent edgeintent01a\.1\)/,
    );
    assert.match(refused.stdout, /\n0\s+\S+tintent\.yaml\s+–\s+10 \(1\)\s+rejected \(reason above\)/);
    assert.match(refused.stdout, /0 accepted, 2 rejected/);
    const done = await Promise.all(
      ['edgeintent01a.1', 'edgeintent02a.1'].map((id) =>
        waitIntent(() => mlfo.url, id, ['completed', 'failed'], 180_000),
      ),
    );
    assert.deepEqual(
      done.map((d) => [d.state, d.clients.map((c) => c.node)]),
      [
        ['completed', ['fc.10', 'fc.11']],
        ['completed', ['fc.12']],
      ],
    );
  });

  it('--follow shows progress per cohort and ends with a summary of completed cohorts', async () => {
    const r = await runSendintent([
      '--config',
      writeConfig('b'),
      '--mlfo',
      mlfo.url,
      '--follow',
      '--interval-ms',
      '200',
    ]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    // not a terminal: one plain line per change, no cursor movement
    assert.ok(!r.stdout.includes('\x1b['), 'no ANSI escapes');
    assert.match(
      r.stdout,
      /cohort 0 {2}edgeintent01b\.1 {2}\[#{20}\] {2}round 2\/2 {2}loss \d\.\d{3} {2}acc \d\.\d{3} {2}completed/,
    );
    assert.match(
      r.stdout,
      /cohort 1 {2}edgeintent02b\.1 {2}\[#{20}\] {2}round 2\/2 {2}loss \d\.\d{3} {2}acc \d\.\d{3} {2}completed/,
    );
    const summary = r.stdout.slice(r.stdout.indexOf('\nsummary\n'));
    assert.match(summary, /cohort\s+id\s+state\s+rounds\s+accuracy/);
    assert.match(summary, /\n0\s+edgeintent01b\.1\s+completed\s+2\/2\s+\d\.\d{3}/);
    assert.match(summary, /\n1\s+edgeintent02b\.1\s+completed\s+2\/2\s+\d\.\d{3}/);
    assert.match(summary, /2 of 2 completed/);
    // each cohort's clients were started once on their own nodes
    for (const node of ['fc.10', 'fc.11', 'fc.12']) {
      const sessions = await adapterSessions(adapters.get(node)!);
      assert.equal(
        sessions.filter((s) => s.session.includes('edgeintent0') && s.session.includes('b.1')).length,
        1,
        node,
      );
    }
    assert.equal(await intentCount(), 4, 'the repeated and the rejected posts made no record');
  });
});
