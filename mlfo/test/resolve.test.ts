import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadCatalog } from '../src/intent/catalog.ts';
import type { Intent } from '../../common/intent/intent-schema.ts';
import { IntentError, parseIntentYaml } from '../../common/intent/parse-intent.ts';
import { intentFromMomo, intentToMomo } from '../src/momo/intent-momo.ts';
import { pipelineFromDerived, resolveIntent } from '../src/intent/resolve.ts';

const intentsDir = new URL('../../intents', import.meta.url).pathname;
const seedCatalog = loadCatalog(join(intentsDir, 'catalog.yaml'));
const digitsCatalog = loadCatalog(join(intentsDir, 'catalog.digits.yaml'));

function seedIntent(file: string): Intent {
  return parseIntentYaml(readFileSync(join(intentsDir, file), 'utf8'), { fileName: file }).intent;
}

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

function rejects(
  fn: () => unknown,
  status: number,
  fragment: RegExp,
  where?: { path: string; line?: number },
) {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof IntentError, `expected an IntentError, got ${String(caught)}`);
  assert.equal(caught.status, status, caught.message);
  assert.match(caught.message, fragment);
  if (where !== undefined) {
    const p = caught.problems.find((x) => x.path === where.path);
    assert.ok(p, `no problem at ${where.path}: ${caught.message}`);
    if (where.line !== undefined) assert.equal(p.line, where.line, caught.message);
  }
}

describe('the seed intents resolve with both catalogs', () => {
  const table = [
    ['intent.yaml', seedCatalog, 'handmnist', 'complex', 0],
    ['2intent.yaml', seedCatalog, 'fashionmnist', 'complex', 0],
    ['3intent.yaml', seedCatalog, 'cifar', 'mobilenet', 1],
    ['intent.yaml', digitsCatalog, 'handmnist', 'complex', 1],
    ['2intent.yaml', digitsCatalog, 'handmnist', 'complex', 2],
    ['3intent.yaml', digitsCatalog, 'handmnist', 'complex', 2],
  ] as const;
  for (const [file, catalog, source, model, nWarnings] of table) {
    it(`${file} with ${catalog.name} → ${source}/${model}`, () => {
      const { pipeline, derived, warnings } = resolveIntent(
        seedIntent(file),
        { ipstart: '10', cohortsize: '30' },
        catalog,
      );
      assert.equal(pipeline.source, source);
      assert.equal(pipeline.model, model);
      assert.equal(pipeline.sink, 'robot.controller');
      assert.equal(pipeline.algo, 'fedavg');
      assert.deepEqual(
        [pipeline.fracfit, pipeline.minfit, pipeline.minav, pipeline.numround],
        [0.5, 1, 1, 20],
      );
      assert.deepEqual(pipeline.cohort, { ipstart: 10, cohortsize: 30 });
      assert.equal(pipeline.catalogFile, catalog.fileName);
      assert.equal(warnings.length, nWarnings, warnings.join('\n'));
      if (catalog === digitsCatalog) assert.ok(warnings.some((w) => /stand-in/.test(w)));
      if (model === 'mobilenet')
        assert.match(warnings[0]!, /model mobilenet .* cannot be trained by the flower-adapter/);
      assert.equal(derived.targets[0]!.constraints.sourcekind, source);
    });
  }
});

describe('precedence: intent > form > catalog', () => {
  it('takes every setting from the catalog when nothing else is given', () => {
    const { pipeline } = resolveIntent(seedIntent('intent.yaml'), {}, seedCatalog);
    assert.deepEqual(pipeline.settingsSource, {
      source: 'catalog',
      model: 'catalog',
      algo: 'catalog',
      fracfit: 'catalog',
      minfit: 'catalog',
      minav: 'catalog',
      numround: 'catalog',
      epochs: 'catalog',
      batchsize: 'catalog',
      lr: 'catalog',
      sameserv: 'catalog',
    });
    assert.deepEqual(pipeline.cohort, {});
    assert.equal(pipeline.epochs, 1);
    assert.equal(pipeline.batchsize, 32);
    assert.equal(pipeline.lr, undefined);
  });

  it('lets form fields override the catalog, sameserver filling sameserv', () => {
    const form = {
      sameserver: 'nor',
      avgalgo: 'FedAvg',
      fracfit: '0.25',
      minfit: '2',
      minav: '3',
      numround: '7',
    };
    const { pipeline } = resolveIntent(seedIntent('intent.yaml'), form, seedCatalog);
    assert.deepEqual(
      [pipeline.sameserv, pipeline.fracfit, pipeline.minfit, pipeline.minav, pipeline.numround],
      ['nor', 0.25, 2, 3, 7],
    );
    for (const k of ['sameserv', 'algo', 'fracfit', 'minfit', 'minav', 'numround'] as const) {
      assert.equal(pipeline.settingsSource[k], 'form', k);
    }
  });

  it('lets intent constraints override the form and says so', () => {
    const intent = intentWith('fracfit: 0.3', 'numround: 4', 'sourcekind: handmnist', 'modelkind: simple');
    const { pipeline, warnings } = resolveIntent(
      intent,
      { fracfit: '0.7', numround: '4', minav: '2' },
      seedCatalog,
    );
    assert.equal(pipeline.fracfit, 0.3);
    assert.equal(pipeline.settingsSource.fracfit, 'intent');
    assert.equal(pipeline.numround, 4);
    assert.equal(pipeline.settingsSource.numround, 'intent');
    assert.equal(pipeline.minav, 2);
    assert.equal(pipeline.settingsSource.minav, 'form');
    assert.equal(pipeline.minfit, 1);
    assert.equal(pipeline.settingsSource.minfit, 'catalog');
    assert.equal(pipeline.model, 'simple');
    assert.equal(pipeline.settingsSource.model, 'intent');
    // same value from both: no warning; different: one warning naming both
    assert.deepEqual(warnings, ['form.fracfit: "0.7" is overridden by the intent\'s fracfit "0.3"']);
  });

  it('treats empty form fields as absent, as the seed (Go FormValue) did', () => {
    const { pipeline } = resolveIntent(seedIntent('intent.yaml'), { fracfit: '', ipstart: '' }, seedCatalog);
    assert.equal(pipeline.settingsSource.fracfit, 'catalog');
    assert.deepEqual(pipeline.cohort, {});
  });
});

describe('resolveIntent: bad input', () => {
  const welding = () => seedIntent('intent.yaml');
  type Case = [
    name: string,
    run: () => unknown,
    status: number,
    fragment: RegExp,
    where?: { path: string; line?: number },
  ];
  const cases: Case[] = [
    [
      'form fracfit 0',
      () => resolveIntent(welding(), { fracfit: '0' }, seedCatalog),
      422,
      /form fields: form\.fracfit: got "0"; allowed: a number in \(0, 1\]/,
    ],
    [
      'form numround words',
      () => resolveIntent(welding(), { numround: 'ten' }, seedCatalog),
      422,
      /form\.numround: got "ten"/,
    ],
    [
      'form avgalgo',
      () => resolveIntent(welding(), { avgalgo: 'FedSgd' }, seedCatalog),
      422,
      /form\.avgalgo: got "FedSgd"; allowed: one of FedAvg, FedAvgM/,
    ],
    [
      'a strategy whose required setting is missing',
      () => resolveIntent(welding(), { avgalgo: 'FedProx' }, seedCatalog),
      422,
      /form\.proximal_mu: missing \(required, no default\); allowed: a number in \[0, 1000000\] \(avgalgo FedProx, from form field avgalgo\)/,
    ],
    [
      'form sameserver',
      () => resolveIntent(welding(), { sameserver: 'maybe' }, seedCatalog),
      422,
      /form\.sameserver: got "maybe"; allowed: one of no, nor, yes/,
    ],
    [
      'form ipstart',
      () => resolveIntent(welding(), { ipstart: 'abc' }, seedCatalog),
      422,
      /form\.ipstart: got "abc"; allowed: an integer in \[1, 254\]/,
    ],
    [
      'form cohortsize 0',
      () => resolveIntent(welding(), { cohortsize: '0' }, seedCatalog),
      422,
      /form\.cohortsize: got "0"/,
    ],
    [
      'cohort past .254',
      () => resolveIntent(welding(), { ipstart: '250', cohortsize: '10' }, seedCatalog),
      422,
      /runs past 10\.0\.1\.254/,
    ],
    [
      'form minfit above catalog minav',
      () => resolveIntent(welding(), { minfit: '3' }, seedCatalog),
      422,
      /minfit 3 \(from form field minfit\) is greater than minav 1 \(from catalog .*catalog\.yaml:\d+ \(maximise robots\.welding\.accuracy\)\)/,
      { path: 'form.minfit' },
    ],
    [
      'intent minfit above form minav',
      () => resolveIntent(intentWith('minfit: 2'), { minav: '1' }, seedCatalog),
      422,
      /^i\.yaml:8:17: targets\[0\]\.constraints\.minfit: minfit 2 \(from intent targets\[0\]\.constraints\.minfit \(line 8\)\) is greater than minav 1 \(from form field minav\)/,
      { path: 'targets[0].constraints.minfit', line: 8 },
    ],
    [
      'unknown operand',
      () =>
        resolveIntent(
          parseIntentYaml(good.replace('welding', 'painting'), { fileName: 'i.yaml' }).intent,
          {},
          seedCatalog,
        ),
      422,
      /^i\.yaml:5:16: targets\[0\]\.operand: no pipeline .* known operation\/operand pairs: maximise robots\.welding\.accuracy; maximise robots\.drilling\.accuracy/,
      { path: 'targets[0].operand', line: 5 },
    ],
    [
      'the aggregate operation in a user intent',
      () =>
        resolveIntent(
          parseIntentYaml(
            good
              .replace('maximise', 'aggregate.global')
              .replace('robots.welding.accuracy', 'model.federated'),
          ).intent,
          {},
          seedCatalog,
        ),
      422,
      /is what an edge MLFO asks of the cloud MLFO over MoMo, not a user intent; allowed here: maximise robots\.welding\.accuracy/,
    ],
    [
      'two targets',
      () =>
        resolveIntent(
          parseIntentYaml(
            `${good}    - {id: b, operation: maximise, operand: robots.cutting.accuracy, constraints: {privacylevel: high}}\n`,
          ).intent,
          {},
          seedCatalog,
        ),
      422,
      /targets: has 2 targets; allowed: exactly one target per intent/,
      { path: 'targets', line: 3 },
    ],
    [
      'no privacylevel (an intent that did not come through parseIntentYaml)',
      () =>
        resolveIntent(
          intentFromMomo({
            intentID: 'x',
            Targets: [{ ID: 'a', operation: 'maximise', operand: 'robots.welding.accuracy' }],
          }).intent,
          {},
          seedCatalog,
        ),
      422,
      /privacylevel: missing; expected privacylevel: high/,
    ],
  ];
  for (const [name, run, status, fragment, where] of cases) {
    it(`${name} → ${status}`, () => rejects(run, status, fragment, where));
  }

  it('warns about unknown form fields and a cohort smaller than minav', () => {
    const { warnings } = resolveIntent(
      welding(),
      { cohortsize: '2', minav: '3', colour: 'blue', file: 'intent.yaml' },
      seedCatalog,
    );
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(
      warnings[0]!,
      /form\.colour: unknown form field, ignored; known: ipstart, cohortsize, sameserver/,
    );
    assert.match(warnings[1]!, /minav 3 \(from form field minav\) is larger than the cohort \(2 clients\)/);
  });
});

describe('derived intent (edge → cloud) and pipelineFromDerived', () => {
  it('derives the aggregate.global intent with the settings as strings, in the seed spelling', () => {
    const { derived } = resolveIntent(
      seedIntent('2intent.yaml'),
      { fracfit: '0.3', sameserver: 'nor' },
      seedCatalog,
    );
    assert.equal(derived.intentID, 'edgeintent02-fed');
    assert.equal(derived.targets.length, 1);
    const t = derived.targets[0]!;
    assert.equal(t.id, 'cloud0-001');
    assert.equal(t.operation, 'aggregate.global');
    assert.equal(t.operand, 'model.federated');
    assert.deepEqual(t.constraints, {
      privacylevel: 'high',
      sourcekind: 'fashionmnist',
      modelkind: 'complex',
      avgalgo: 'FedAvg',
      fracfit: '0.3',
      minfit: '1',
      minav: '1',
      numround: '20',
      sameserv: 'nor',
    });
  });

  it('round-trips over the MoMo shape into the FL server settings', () => {
    const { derived } = resolveIntent(
      seedIntent('intent.yaml'),
      { numround: '5', minav: '4', minfit: '2' },
      digitsCatalog,
    );
    const arrived = intentFromMomo(intentToMomo(derived)).intent;
    const { settings, warnings } = pipelineFromDerived(arrived);
    assert.deepEqual(warnings, []);
    assert.deepEqual(settings, {
      intentID: 'edgeintent01-fed',
      targetId: 'cloud0-001',
      algo: 'fedavg',
      fracfit: 0.5,
      minfit: 2,
      minav: 4,
      numround: 5,
      sameserv: 'no',
      strategyParams: {},
      source: 'handmnist',
      model: 'complex',
      settingsSource: {
        algo: 'intent',
        fracfit: 'intent',
        minfit: 'intent',
        minav: 'intent',
        numround: 'intent',
        sameserv: 'intent',
      },
    });
  });

  it("accepts a seed-generation MLFO's derived intent (fedintent-000, empty privacylevel)", () => {
    const seedMomo = {
      intentID: 'fedintent-000',
      Targets: [
        {
          ID: 'cloud0-001',
          operation: 'aggregate.global',
          operand: 'model.federated',
          Constraints: {
            privacylevel: '',
            sourcekind: 'handmnist',
            modelkind: 'complex',
            avgalgo: 'FedAvg',
            fracfit: '0.5',
            minfit: '1',
            minav: '1',
            numround: '20',
            sameserv: 'no',
          },
        },
      ],
    };
    const { settings } = pipelineFromDerived(intentFromMomo(seedMomo).intent);
    assert.equal(settings.numround, 20);
    assert.equal(settings.sameserv, 'no');
  });

  const derivedWith = (constraints: Record<string, string>, operation = 'aggregate.global'): Intent =>
    intentFromMomo({
      intentID: 'x-fed',
      Targets: [{ ID: 'cloud0-001', operation, operand: 'model.federated', Constraints: constraints }],
    }).intent;

  it('fills missing settings from the catalog aggregator entry, or rejects them without a catalog', () => {
    const partial = derivedWith({ fracfit: '0.2' });
    rejects(
      () => pipelineFromDerived(partial),
      422,
      /derived intent x-fed: targets\[0\]\.constraints\.avgalgo: missing; allowed: one of FedAvg/,
    );
    const { settings } = pipelineFromDerived(partial, seedCatalog);
    assert.equal(settings.fracfit, 0.2);
    assert.equal(settings.settingsSource.fracfit, 'intent');
    assert.equal(settings.numround, 20);
    assert.equal(settings.settingsSource.numround, 'catalog');
  });

  it('rejects a derived intent with the wrong operation or bad values', () => {
    rejects(
      () => pipelineFromDerived(derivedWith({}, 'maximise'), seedCatalog),
      422,
      /allowed: operation aggregate\.global with operand model\.federated/,
    );
    // a hand-built Intent whose strings were never checked
    const raw: Intent = {
      intentID: 'y-fed',
      targets: [
        {
          id: 'cloud0-001',
          operation: 'aggregate.global',
          operand: 'model.federated',
          constraints: { fracfit: '1.5', minfit: '3', minav: '2' },
          parsed: {},
        },
      ],
    };
    rejects(
      () => pipelineFromDerived(raw, seedCatalog),
      422,
      /fracfit: got "1\.5".*\n.*minfit \(3\) is greater than minav \(2\)/,
    );
  });
});
