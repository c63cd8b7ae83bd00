// The strategy settings (Flower's names: server_momentum, proximal_mu, …) through the MLFO: from
// intent constraints or /receive form fields, checked against the adapter's table
// (common/strategy-params.ts), into the derived intent, over MoMo's field 10, and out as the
// cloud's FL server settings; cohort configs check them before sendintent posts anything.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CohortConfigError, parseCohortConfig, planCohortPosts } from '../../common/intent/cohort-config.ts';
import type { Intent } from '../../common/intent/intent-schema.ts';
import { IntentError, parseIntentYaml } from '../../common/intent/parse-intent.ts';
import { CatalogError, loadCatalog, parseCatalog } from '../src/intent/catalog.ts';
import { pipelineDifferences, SERVER_SETTINGS } from '../src/intent/pipeline-diff.ts';
import { pipelineFromDerived, resolveIntent } from '../src/intent/resolve.ts';
import { intentFromMomo, intentToMomo } from '../src/momo/intent-momo.ts';
import { sharingSignature } from '../src/orchestration/server-placement.ts';

const intentsDir = new URL('../../intents', import.meta.url).pathname;
const catalog = loadCatalog(join(intentsDir, 'catalog.yaml'));

const good = `intentID: edgeintent01
targets:
    - id: factory.all
      operation: maximise
      operand: robots.welding.accuracy
      constraints:
        privacylevel: high
`;
function intentWith(...lines: string[]): Intent {
  return parseIntentYaml(good + lines.map((l) => `        ${l}\n`).join(''), { fileName: 'i.yaml' }).intent;
}

function rejects(fn: () => unknown, fragment: RegExp, path?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof IntentError, `expected an IntentError, got ${String(caught)}`);
  assert.equal(caught.status, 422, caught.message);
  assert.match(caught.message, fragment);
  if (path !== undefined)
    assert.ok(
      caught.problems.some((p) => p.path === path),
      caught.message,
    );
}

describe('strategy settings at /receive', () => {
  it('FedAvgM server_momentum from the intent, the rest from the strategy defaults, to the cloud and its /serv fields', () => {
    const { pipeline, derived } = resolveIntent(
      intentWith('avgalgo: FedAvgM', 'server_momentum: 0.5'),
      { minfit: '2', minav: '2' },
      catalog,
    );
    assert.equal(pipeline.algo, 'fedavgm');
    assert.deepEqual(pipeline.strategyParams, { server_learning_rate: 1, server_momentum: 0.5 });
    assert.equal(pipeline.settingsSource.server_momentum, 'intent');
    assert.equal(pipeline.settingsSource.server_learning_rate, 'default');
    // only what the user gave travels; the cloud fills the defaults from the same table
    const t = derived.targets[0]!;
    assert.equal(t.constraints.server_momentum, '0.5');
    assert.equal(t.constraints.server_learning_rate, undefined);
    const momo = intentToMomo(derived);
    assert.deepEqual(momo.Targets[0]!.Constraints.strategysettings, { server_momentum: '0.5' });
    assert.equal(momo.Targets[0]!.Constraints.avgalgo, 'FedAvgM');
    const { settings } = pipelineFromDerived(intentFromMomo(momo).intent, catalog);
    assert.equal(settings.algo, 'fedavgm');
    assert.deepEqual(settings.strategyParams, { server_learning_rate: 1, server_momentum: 0.5 });
    assert.equal(settings.settingsSource.server_momentum, 'intent');
    assert.equal(settings.settingsSource.server_learning_rate, 'default');
  });

  it('intent constraint > form field > catalog defaults.strategy (where the strategy takes it) > the strategy default', () => {
    const text = readFileSync(join(intentsDir, 'catalog.yaml'), 'utf8').replace(
      '  sameserv: "no"\n',
      '  sameserv: "no"\n  strategy: {server_momentum: 0.9, server_learning_rate: 0.5, proximal_mu: 0.01}\n',
    );
    const withDefaults = parseCatalog(text, 'cat.yaml');
    const fromCatalog = resolveIntent(intentWith('avgalgo: FedAvgM'), {}, withDefaults).pipeline;
    assert.deepEqual(fromCatalog.strategyParams, { server_learning_rate: 0.5, server_momentum: 0.9 });
    assert.equal(fromCatalog.settingsSource.server_momentum, 'catalog');
    const overridden = resolveIntent(
      intentWith('avgalgo: FedAvgM', 'server_momentum: 0.2'),
      { server_learning_rate: '0.7' },
      withDefaults,
    ).pipeline;
    assert.deepEqual(overridden.strategyParams, { server_learning_rate: 0.7, server_momentum: 0.2 });
    assert.deepEqual(
      [overridden.settingsSource.server_momentum, overridden.settingsSource.server_learning_rate],
      ['intent', 'form'],
    );
    // a setting of another strategy in the catalog does not reach this one
    assert.deepEqual(
      resolveIntent(intentWith('avgalgo: FedAvg'), {}, withDefaults).pipeline.strategyParams,
      {},
    );
    assert.throws(
      () => parseCatalog(text.replace('server_momentum: 0.9', 'server_momentum: 1.5'), 'cat.yaml'),
      (e: unknown) =>
        e instanceof CatalogError &&
        /defaults\.strategy\.server_momentum: got "1\.5"; allowed/.test(e.message),
    );
    assert.throws(
      () => parseCatalog(text.replace('server_momentum: 0.9', 'momentum: 0.9'), 'cat.yaml'),
      (e: unknown) =>
        e instanceof CatalogError &&
        /defaults\.strategy\.momentum: unknown key; allowed: .*server_momentum/.test(e.message),
    );
  });

  it('intent constraint > form field, with a warning; form fields of Flower names work alone', () => {
    const { pipeline, warnings } = resolveIntent(
      intentWith('avgalgo: FedProx', 'proximal_mu: 0.2'),
      { proximal_mu: '0.1' },
      catalog,
    );
    assert.deepEqual(pipeline.strategyParams, { proximal_mu: 0.2 });
    assert.equal(pipeline.settingsSource.proximal_mu, 'intent');
    assert.ok(
      warnings.some((w) =>
        /form\.proximal_mu: "0\.1" is overridden by the intent's proximal_mu "0\.2"/.test(w),
      ),
    );
    const fromForm = resolveIntent(
      intentWith(),
      { avgalgo: 'FedProx', proximal_mu: '0.01' },
      catalog,
    ).pipeline;
    assert.deepEqual(fromForm.strategyParams, { proximal_mu: 0.01 });
    assert.equal(fromForm.settingsSource.proximal_mu, 'form');
    assert.equal(fromForm.settingsSource.algo, 'form');
  });

  it('central DP around any strategy: all three fields', () => {
    const { pipeline } = resolveIntent(
      intentWith('clipping_norm: 1.5', 'noise_multiplier: 0.1', 'num_sampled_clients: 2'),
      {},
      catalog,
    );
    assert.deepEqual(pipeline.strategyParams, {
      clipping_norm: 1.5,
      noise_multiplier: 0.1,
      num_sampled_clients: 2,
    });
    rejects(
      () => resolveIntent(intentWith('clipping_norm: 1.5'), {}, catalog),
      /noise_multiplier: missing: central DP takes clipping_norm, noise_multiplier, num_sampled_clients together/,
    );
  });

  it('refuses, naming the field and what is allowed: out of range, wrong strategy, not a number, combinations, required', () => {
    rejects(
      () => resolveIntent(intentWith('avgalgo: FedAvgM', 'server_momentum: 1'), {}, catalog),
      /targets\[0\]\.constraints\.server_momentum: got 1; allowed: a number in \[0, 1\) \(avgalgo FedAvgM/,
      'targets[0].constraints.server_momentum',
    );
    rejects(
      () => resolveIntent(intentWith(), { proximal_mu: '0.1' }, catalog),
      /form\.proximal_mu: not a setting of fedavg \(it is one of fedprox\); allowed: clipping_norm/,
      'form.proximal_mu',
    );
    rejects(
      () => resolveIntent(intentWith(), { avgalgo: 'FedAvgM', server_momentum: 'lots' }, catalog),
      /form\.server_momentum: got "lots"; allowed: a number/,
    );
    rejects(
      () =>
        resolveIntent(
          intentWith('avgalgo: Krum', 'num_malicious_clients: 1'),
          { minfit: '3', minav: '3' },
          catalog,
        ),
      /num_malicious_clients: 1 needs more than 2·1\+2 = 4 clients per round, but minfit is 3/,
    );
    rejects(
      () => resolveIntent(intentWith('avgalgo: MultiKrum'), {}, catalog),
      /targets\[0\]\.constraints\.num_clients_to_keep: missing \(required, no default\); allowed: an integer in \[1, 100000\]/,
    );
  });

  it('the cloud checks a derived intent again', () => {
    const { derived } = resolveIntent(intentWith('avgalgo: FedAvgM', 'server_momentum: 0.5'), {}, catalog);
    const momo = intentToMomo(derived);
    momo.Targets[0]!.Constraints.strategysettings = { server_momentum: '2' };
    rejects(
      () => pipelineFromDerived(intentFromMomo(momo).intent, catalog),
      /targets\[0\]\.constraints\.server_momentum: got 2; allowed: a number in \[0, 1\)/,
    );
  });

  it('cohorts with different strategy settings are different servers', () => {
    const a = resolveIntent(intentWith('avgalgo: FedAvgM', 'server_momentum: 0.5'), {}, catalog).pipeline;
    const b = resolveIntent(intentWith('avgalgo: FedAvgM', 'server_momentum: 0.9'), {}, catalog).pipeline;
    const c = resolveIntent(intentWith('avgalgo: FedAvgM'), { server_momentum: '0.5' }, catalog).pipeline;
    assert.deepEqual(pipelineDifferences(a, b, SERVER_SETTINGS), [
      'strategyParams server_learning_rate=1, server_momentum=0.5 (theirs server_learning_rate=1, server_momentum=0.9)',
    ]);
    assert.deepEqual(pipelineDifferences(a, c, SERVER_SETTINGS), []);
  });

  it('the cloud shares an FL server only between cohorts of the same strategy settings (defaults filled in)', () => {
    const cloud = (...lines: string[]) =>
      pipelineFromDerived(
        intentFromMomo(intentToMomo(resolveIntent(intentWith(...lines), {}, catalog).derived)).intent,
        catalog,
      ).settings;
    const half = sharingSignature(cloud('avgalgo: FedAvgM', 'server_momentum: 0.5'));
    assert.notEqual(half, sharingSignature(cloud('avgalgo: FedAvgM', 'server_momentum: 0.9')));
    assert.notEqual(
      sharingSignature(cloud('avgalgo: FedAvgM')),
      sharingSignature(
        cloud(
          'avgalgo: FedAvgM',
          'server_momentum: 0.5',
          'clipping_norm: 1',
          'noise_multiplier: 0',
          'num_sampled_clients: 2',
        ),
      ),
    );
    assert.equal(
      sharingSignature(cloud('avgalgo: FedAvgM', 'server_momentum: 0')),
      sharingSignature(cloud('avgalgo: FedAvgM')),
    );
    // plain FedAvg keeps the signature it had before strategy settings existed
    const fedavg = cloud();
    assert.equal(
      sharingSignature(fedavg),
      JSON.stringify([
        fedavg.source ?? '',
        fedavg.model ?? '',
        'fedavg',
        fedavg.fracfit,
        fedavg.minfit,
        fedavg.minav,
        fedavg.numround,
      ]),
    );
  });
});

describe('strategy settings in cohort configs', () => {
  const dir = intentsDir;
  const base = (extra: string) => `cohortdistr: [2, 2]\nintentdist: [intent.yaml, intent.yaml]\n${extra}`;
  it('passes them on as form fields of their names', () => {
    const cfg = parseCohortConfig(
      base('avgalgodist: [FedAvgM, FedAvgM]\nserver_momentumdist: [0.5, 0.9]\nclipping_normdist: [1, 2]\n'),
      'c.yaml',
      dir,
    );
    assert.deepEqual(
      planCohortPosts(cfg).map((p) => [p.fields.avgalgo, p.fields.server_momentum, p.fields.clipping_norm]),
      [
        ['FedAvgM', '0.5', '1'],
        ['FedAvgM', '0.9', '2'],
      ],
    );
  });
  it('refuses unknown lists, settings the cohort strategy does not take, and values out of range', () => {
    const bad = (text: string, fragment: RegExp) => {
      let caught: unknown;
      try {
        parseCohortConfig(base(text), 'c.yaml', dir);
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof CohortConfigError, String(caught));
      assert.match(caught.message, fragment);
    };
    bad(
      'server_momentadist: [0.5, 0.5]\n',
      /server_momentadist: unknown key; allowed: .*server_momentumdist/,
    );
    bad(
      'avgalgodist: [FedAvg, FedAvg]\nproximal_mudist: [0.1, 0.1]\n',
      /proximal_mudist\[0\]: proximal_mu is not a setting of avgalgo FedAvg \(cohort 0\)/,
    );
    bad(
      'avgalgodist: [FedAvgM, FedAvgM]\nserver_momentumdist: [0.5, 1.5]\n',
      /server_momentumdist\[1\]: got 1\.5; allowed: a number in \[0, 1\)/,
    );
    bad(
      'clipping_normdist: [0, 1]\n',
      /clipping_normdist\[0\]: got 0; allowed: a number in \(0, 1000000000\]/,
    );
  });
});
