import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CatalogError, loadCatalog, parseCatalog } from '../src/intent/catalog.ts';
import { IntentError } from '../../common/intent/parse-intent.ts';

const intentsDir = new URL('../../intents', import.meta.url).pathname;

const SEED_PAIRS = [
  'maximise robots.welding.accuracy',
  'maximise robots.drilling.accuracy',
  'maximise robots.cutting.accuracy',
  'aggregate.global model.federated',
];

describe('shipped catalogs', () => {
  it('catalog.yaml holds the seed mapping', () => {
    const c = loadCatalog(join(intentsDir, 'catalog.yaml'));
    assert.deepEqual(c.knownPairs(), SEED_PAIRS);
    const pick = (operand: string) => c.resolve({ operation: 'maximise', operand });
    assert.deepEqual(
      [
        pick('robots.welding.accuracy'),
        pick('robots.drilling.accuracy'),
        pick('robots.cutting.accuracy'),
      ].map((e) => [e.source, e.model, e.sink]),
      [
        ['handmnist', 'complex', 'robot.controller'],
        ['fashionmnist', 'complex', 'robot.controller'],
        ['cifar', 'mobilenet', 'robot.controller'],
      ],
    );
    assert.deepEqual(pick('robots.welding.accuracy').defaults, {
      avgalgo: 'fedavg',
      fracfit: 0.5,
      minfit: 1,
      minav: 1,
      numround: 20,
      epochs: 1,
      batchsize: 32,
      sameserv: 'no',
    });
    const agg = c.resolve({ operation: 'aggregate.global', operand: 'model.federated' });
    assert.equal(agg.role, 'aggregator');
    assert.equal(agg.source, undefined);
    // mobilenet is accepted but flagged: the adapter cannot train it.
    assert.equal(c.warnings.length, 1);
    assert.match(
      c.warnings[0]!,
      /catalog\.yaml:\d+:\d+: entries\[2\]\.model: the flower-adapter cannot train model mobilenet/,
    );
  });

  it('catalog.digits.yaml maps every seed operand to handmnist and says so where it differs from the seed', () => {
    const c = loadCatalog(join(intentsDir, 'catalog.digits.yaml'));
    assert.deepEqual(c.knownPairs(), SEED_PAIRS);
    assert.deepEqual(c.warnings, []);
    assert.match(c.note ?? '', /stand-in/);
    const seed = loadCatalog(join(intentsDir, 'catalog.yaml'));
    for (const e of c.entries.filter((x) => x.role === 'client')) {
      assert.equal(e.source, 'handmnist');
      const original = seed.resolve(e);
      const modelKept = original.model === e.model;
      if (!modelKept) {
        assert.equal(e.model, 'complex');
        assert.match(
          e.note ?? '',
          new RegExp(`model ${original.model}`),
          `${e.operand} must explain the model swap`,
        );
      }
      if (original.source !== e.source) {
        assert.match(
          e.note ?? '',
          new RegExp(`source ${original.source}`),
          `${e.operand} must explain the source swap`,
        );
      }
    }
  });
});

const base = `defaults:
  avgalgo: FedAvg
  fracfit: 0.5
  minfit: 1
  minav: 1
  numround: 20
  epochs: 1
  batchsize: 32
  sameserv: "no"
entries:
  - operation: maximise
    operand: robots.welding.accuracy
    source: handmnist
    model: complex
    sink: robot.controller
`;

function rejects(text: string, fragment: RegExp, where?: { line: number; column?: number }) {
  let caught: unknown;
  try {
    parseCatalog(text, 'cat.yaml');
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CatalogError, `expected a CatalogError, got ${String(caught)}`);
  assert.match(caught.message, fragment);
  assert.match(caught.message, /^bad catalog cat\.yaml:\n/);
  if (where !== undefined) {
    const p = caught.problems.find(
      (x) => fragment.test(x.message) || fragment.test(`${x.path}: ${x.message}`),
    );
    assert.ok(p, caught.message);
    assert.equal(p.line, where.line, caught.message);
    if (where.column !== undefined) assert.equal(p.column, where.column, caught.message);
  }
}

describe('bad catalogs', () => {
  type Case = [name: string, text: string, fragment: RegExp, where?: { line: number; column?: number }];
  const cases: Case[] = [
    [
      'unknown source',
      base.replace('source: handmnist', 'source: imagenet'),
      /entries\[0\]\.source: unknown value "imagenet"; allowed: handmnist, fashionmnist, cifar/,
      { line: 13, column: 13 },
    ],
    [
      'unknown model',
      base.replace('model: complex', 'model: resnet'),
      /entries\[0\]\.model: unknown value "resnet"; allowed: simple, complex, mobilenet/,
      { line: 14, column: 12 },
    ],
    [
      'bad default',
      base.replace('fracfit: 0.5', 'fracfit: 2'),
      /defaults\.fracfit: got "2"; allowed: a number in \(0, 1\]/,
      { line: 3, column: 12 },
    ],
    [
      'bad entry default',
      `${base}    defaults: {numround: 0}\n`,
      /entries\[0\]\.defaults\.numround: got "0"/,
      { line: 16 },
    ],
    [
      'minfit above minav',
      base.replace('minfit: 1', 'minfit: 4'),
      /minfit \(4\) is greater than minav \(1\)/,
    ],
    [
      'missing default',
      base.replace('  numround: 20\n', ''),
      /entries\[0\]\.defaults\.numround: missing here and in the catalog's top-level defaults/,
    ],
    [
      'duplicate pair',
      `${base}  - operation: maximise\n    operand: robots.welding.accuracy\n    source: cifar\n    model: simple\n    sink: x\n`,
      /entries\[1\]: operation maximise with operand robots\.welding\.accuracy is already defined at line 11/,
      { line: 16, column: 5 },
    ],
    ['missing sink', base.replace('    sink: robot.controller\n', ''), /entries\[0\]\.sink: missing/],
    [
      'unknown entry key',
      `${base}    sinks: x\n`,
      /entries\[0\]\.sinks: unknown key; allowed: operation, operand/,
      { line: 16, column: 5 },
    ],
    ['unknown top key', `${base}extra: 1\n`, /extra: unknown key/],
    [
      'unknown role',
      `${base}    role: server\n`,
      /role: unknown value "server"; allowed: client, aggregator/,
    ],
    [
      'aggregator with a source',
      `${base}  - operation: aggregate.global\n    operand: model.federated\n    role: aggregator\n    source: handmnist\n`,
      /takes source from the target's sourcekind constraint/,
    ],
    ['no entries', 'defaults: {}\n', /entries: missing or empty/],
    ['not a mapping', '- a\n', /got a list; expected a mapping with entries/],
    ['syntax error', 'entries: [\n', /not valid YAML/, { line: 2 }],
    [
      'unsafe operand',
      base.replace('robots.welding.accuracy', '"robots welding"'),
      /operand: got "robots welding"; allowed: 1–128 characters/,
    ],
  ];
  for (const [name, text, fragment, where] of cases) {
    it(name, () => rejects(text, fragment, where));
  }

  it('names the file when it cannot be read', () => {
    assert.throws(
      () => loadCatalog('/nonexistent/catalog.yaml'),
      /bad catalog \/nonexistent\/catalog\.yaml:\n.*cannot read the catalog/,
    );
  });
});

describe('Catalog.resolve', () => {
  it('answers an unknown pair with a 422 listing the known pairs and the position given', () => {
    const c = parseCatalog(base, 'cat.yaml');
    assert.throws(
      () =>
        c.resolve(
          { operation: 'maximise', operand: 'robots.painting.accuracy' },
          { path: 'targets[0]', line: 5, column: 16 },
        ),
      (e: unknown) =>
        e instanceof IntentError &&
        e.status === 422 &&
        e.problems[0]?.path === 'targets[0].operand' &&
        e.problems[0]?.line === 5 &&
        /no pipeline in catalog cat\.yaml for operation "maximise" and operand "robots\.painting\.accuracy"; known operation\/operand pairs: maximise robots\.welding\.accuracy/.test(
          e.message,
        ),
    );
  });

  it('lets an entry override the top-level defaults', () => {
    const c = parseCatalog(`${base}    defaults: {numround: 5, lr: 0.01}\n`, 'cat.yaml');
    const e = c.resolve({ operation: 'maximise', operand: 'robots.welding.accuracy' });
    assert.equal(e.defaults.numround, 5);
    assert.equal(e.defaults.lr, 0.01);
    assert.equal(e.defaults.fracfit, 0.5);
  });
});
