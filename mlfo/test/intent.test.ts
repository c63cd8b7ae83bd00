import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkFlSetting } from '../../common/intent/setting-rules.ts';
import { IntentError, parseIntentYaml } from '../../common/intent/parse-intent.ts';
import { intentFromMomo, intentToMomo } from '../src/momo/intent-momo.ts';
import {
  ADAPTER_MODEL_NAMES,
  MODEL_NAMES,
  SOURCE_NAMES,
  STRATEGY_NAMES,
} from '../../common/intent/intent-schema.ts';

const root = new URL('../..', import.meta.url).pathname;
const intentsDir = join(root, 'intents');

const good = `intentID: edgeintent01    #unique ID for every intent
targets:
    - id: factory.all
      operation: maximise
      operand: robots.welding.accuracy
      constraints:
        privacylevel: high
`;

function withConstraint(line: string): string {
  return `${good}        ${line}\n`;
}

function rejects(
  text: string,
  status: number,
  fragment: RegExp,
  where?: { path?: string; line?: number; column?: number },
) {
  let caught: unknown;
  try {
    parseIntentYaml(text, { fileName: 'intent.yaml' });
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof IntentError, `expected an IntentError, got ${String(caught)}`);
  assert.equal(caught.status, status, caught.message);
  assert.match(caught.message, fragment);
  if (where !== undefined) {
    const p = caught.problems.find((x) => where.path === undefined || x.path === where.path);
    assert.ok(p, `no problem at path ${where.path}: ${caught.message}`);
    if (where.line !== undefined) assert.equal(p.line, where.line, caught.message);
    if (where.column !== undefined) assert.equal(p.column, where.column, caught.message);
  }
  return caught;
}

describe('parseIntentYaml: the seed intents', () => {
  const expected = [
    ['intent.yaml', 'edgeintent01', 'robots.welding.accuracy'],
    ['2intent.yaml', 'edgeintent02', 'robots.drilling.accuracy'],
    ['3intent.yaml', 'edgeintent03', 'robots.cutting.accuracy'],
  ] as const;
  for (const [file, id, operand] of expected) {
    it(`parses ${file}`, () => {
      const { intent, warnings } = parseIntentYaml(readFileSync(join(intentsDir, file), 'utf8'), {
        fileName: file,
      });
      assert.deepEqual(warnings, []);
      assert.equal(intent.intentID, id);
      assert.equal(intent.targets.length, 1);
      const t = intent.targets[0]!;
      assert.equal(t.id, 'factory.all');
      assert.equal(t.operation, 'maximise');
      assert.equal(t.operand, operand);
      assert.deepEqual(t.constraints, { privacylevel: 'high' });
      assert.deepEqual(t.parsed, { privacylevel: 'high' });
      assert.deepEqual(intent.positions?.['targets[0].operand'], { line: 5, column: 16 });
    });
  }

  it('accepts the FL constraints as strings or YAML numbers, keeping the text and typing the value', () => {
    const text = [
      'fracfit: 0.50',
      'minfit: "1"',
      'minav: 2',
      'numround: "20"',
      'avgalgo: FedAvg',
      'sameserv: no',
      'sourcekind: handmnist',
      'modelkind: complex',
    ]
      .map((l) => `        ${l}`)
      .join('\n');
    const { intent } = parseIntentYaml(`${good}${text}\n`);
    const t = intent.targets[0]!;
    assert.equal(t.constraints.fracfit, '0.50');
    assert.equal(t.constraints.avgalgo, 'FedAvg');
    assert.deepEqual(t.parsed, {
      privacylevel: 'high',
      sourcekind: 'handmnist',
      modelkind: 'complex',
      avgalgo: 'fedavg',
      fracfit: 0.5,
      minfit: 1,
      minav: 2,
      numround: 20,
      sameserv: 'no',
    });
  });

  it('accepts unknown keys (as in real seed files) and reports each as a warning with its line', () => {
    const text = `intentID: edgeintent01    #unique ID for every intent
targets:
    - id: factory.all
      operation: maximise
      operand: robots.welding.accuracy
      constraints:
        privacylevel: high
        latency: low
exp:
  eperfog: 2
`;
    const { intent, warnings } = parseIntentYaml(text, { fileName: 'seed.yaml' });
    assert.equal(intent.intentID, 'edgeintent01');
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /^seed\.yaml:9:1: exp: unknown key, ignored/);
    assert.match(
      warnings[1]!,
      /^seed\.yaml:8:9: targets\[0\]\.constraints\.latency: unknown constraint, ignored; known: privacylevel/,
    );
  });

  it('warns about a constraint with no value instead of dropping it silently', () => {
    const { intent, warnings } = parseIntentYaml(withConstraint('fracfit:'));
    assert.equal(intent.targets[0]!.constraints.fracfit, undefined);
    assert.match(warnings[0]!, /targets\[0\]\.constraints\.fracfit: has no value, ignored/);
  });
});

describe('parseIntentYaml: bad input', () => {
  const bomb = [
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
    'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
    'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
    'intentID: x',
    'targets: *g',
  ].join('\n');
  type Case = [
    name: string,
    text: string,
    status: number,
    fragment: RegExp,
    where?: { path?: string; line?: number; column?: number },
  ];
  const cases: Case[] = [
    ['syntax error', 'intentID: a\ntargets: [\n', 400, /not valid YAML/, { path: '', line: 3, column: 1 }],
    ['bad indentation', 'intentID: a\n  targets: x\n', 400, /not valid YAML/, { line: 1 }],
    ['two documents', `${good}---\n${good}`, 400, /more than one YAML document/, { line: 8, column: 1 }],
    ['duplicate key', 'intentID: a\nintentID: b\n', 400, /key appears twice/, { line: 2, column: 1 }],
    ['alias bomb', bomb, 400, /alias bomb \("billion laughs"\)/],
    [
      'deep nesting',
      `intentID: a\ntargets: ${'['.repeat(5000)}${']'.repeat(5000)}\n`,
      400,
      /nested too deeply/,
    ],
    ['empty document', '# nothing\n', 422, /the intent is empty/],
    ['a list at the top', '- intentID: a\n', 422, /got a list; expected a mapping with intentID and targets/],
    ['a scalar at the top', 'hello\n', 422, /expected a mapping/],
    ['missing intentID', good.replace(/^intentID.*\n/, ''), 422, /intentID: missing/, { path: 'intentID' }],
    [
      'intentID with a space',
      good.replace('edgeintent01', '"edge intent"'),
      422,
      /letters, digits/,
      { path: 'intentID', line: 1, column: 11 },
    ],
    ['intentID with a slash', good.replace('edgeintent01', '../etc'), 422, /intentID: got "\.\.\/etc"/],
    [
      'intentID a list',
      good.replace('edgeintent01    #unique ID for every intent', '[a, b]'),
      422,
      /intentID: got a list/,
    ],
    ['missing targets', 'intentID: a\n', 422, /targets: missing/],
    [
      'empty targets',
      'intentID: a\ntargets: []\n',
      422,
      /got an empty list/,
      { path: 'targets', line: 2, column: 10 },
    ],
    ['targets a string', 'intentID: a\ntargets: all\n', 422, /targets: got string "all"/],
    [
      'target a string',
      'intentID: a\ntargets: [x]\n',
      422,
      /targets\[0\]: got string "x"; expected a mapping/,
    ],
    ['missing operand', good.replace(/^.*operand.*\n/m, ''), 422, /targets\[0\]\.operand: missing/],
    [
      'missing constraints',
      good.replace(/ {6}constraints:\n.*\n/, ''),
      422,
      /constraints: missing; expected constraints with privacylevel: high/,
    ],
    [
      'missing privacylevel',
      good.replace('privacylevel: high', 'sourcekind: handmnist'),
      422,
      /privacylevel: missing/,
    ],
    [
      'privacylevel low',
      good.replace('privacylevel: high', 'privacylevel: low'),
      422,
      /got "low"; only federated-learning pipelines exist here, so privacylevel high is the only supported value/,
      { path: 'targets[0].constraints.privacylevel', line: 7, column: 23 },
    ],
    [
      'fracfit 0',
      withConstraint('fracfit: 0'),
      422,
      /got "0"; allowed: a number in \(0, 1\]/,
      { path: 'targets[0].constraints.fracfit', line: 8, column: 18 },
    ],
    [
      'fracfit 1.5',
      withConstraint('fracfit: "1.5"'),
      422,
      /fracfit: got "1\.5"; allowed: a number in \(0, 1\]/,
    ],
    ['fracfit words', withConstraint('fracfit: half'), 422, /fracfit: got "half"/],
    ['minfit 0', withConstraint('minfit: 0'), 422, /minfit: got "0"; allowed: an integer in \[1, 100000\]/],
    ['minfit 1.5', withConstraint('minfit: 1.5'), 422, /minfit: got "1\.5"; allowed: an integer/],
    ['minav negative', withConstraint('minav: -2'), 422, /minav: got "-2"/],
    [
      'numround 10001',
      withConstraint('numround: 10001'),
      422,
      /numround: got "10001"; allowed: an integer in \[1, 10000\]/,
    ],
    ['numround hex', withConstraint('numround: "0x10"'), 422, /numround: got "0x10"/],
    [
      'minfit above minav',
      `${withConstraint('minfit: 3')}        minav: 2\n`,
      422,
      /minfit \(3\) is greater than minav \(2\); allowed: minfit ≤ minav/,
      { path: 'targets[0].constraints.minfit', line: 8, column: 17 },
    ],
    [
      'unknown avgalgo',
      withConstraint('avgalgo: FedSgd'),
      422,
      /avgalgo: got "FedSgd"; allowed: one of FedAvg, FedAvgM/,
    ],
    [
      'unknown sameserv',
      withConstraint('sameserv: maybe'),
      422,
      /sameserv: got "maybe"; allowed: one of no, nor, yes/,
    ],
    ['sameserv a boolean', withConstraint('sameserv: false'), 422, /sameserv: got "false"/],
    [
      'unknown sourcekind',
      withConstraint('sourcekind: imagenet'),
      422,
      /unknown value "imagenet"; allowed: handmnist, fashionmnist, cifar/,
    ],
    ['unknown modelkind', withConstraint('modelkind: resnet'), 422, /allowed: simple, complex, mobilenet/],
    [
      'constraint a list',
      withConstraint('fracfit: [0.5]'),
      422,
      /fracfit: got a list; expected a single value/,
    ],
  ];
  for (const [name, text, status, fragment, where] of cases) {
    it(`${name} → ${status}`, () => {
      rejects(text, status, fragment, where);
    });
  }

  it('a number where a name is expected is read as its text', () => {
    assert.equal(parseIntentYaml(good.replace('maximise', '42')).intent.targets[0]!.operation, '42');
  });

  it('reports every problem at once, each with its own path and line', () => {
    const err = rejects(`${withConstraint('fracfit: 2')}        numround: 0\n`, 422, /fracfit/);
    assert.deepEqual(
      err.problems.map((p) => [p.path, p.line]),
      [
        ['targets[0].constraints.fracfit', 8],
        ['targets[0].constraints.numround', 9],
      ],
    );
    assert.match(err.message, /^intent\.yaml:8:18: targets\[0\]\.constraints\.fracfit: /);
  });

  it('rejects more than maxBytes with 413 before parsing', () => {
    const big = `${good}# ${'x'.repeat(2 * 1024 * 1024)}\n`;
    rejects(big, 413, /bytes; allowed: at most 1048576 bytes/);
    assert.throws(
      () => parseIntentYaml(good, { maxBytes: 50 }),
      (e: unknown) => e instanceof IntentError && e.status === 413,
    );
  });

  it('lets an ordinary alias through and honours a smaller maxAliasCount', () => {
    const text = `intentID: a
base: &c {privacylevel: high, fracfit: "0.5"}
targets:
  - {id: t1, operation: maximise, operand: robots.welding.accuracy, constraints: *c}
`;
    const { intent, warnings } = parseIntentYaml(text);
    assert.equal(intent.targets[0]!.parsed.fracfit, 0.5);
    assert.match(warnings[0]!, /base: unknown key/);
    assert.throws(
      () => parseIntentYaml(text, { maxAliasCount: 0 }),
      (e: unknown) => e instanceof IntentError && e.status === 400 && /alias bomb/.test(e.message),
    );
  });
});

describe('MoMo form of an intent', () => {
  it('round-trips through intentToMomo / intentFromMomo with empty strings for absent constraints', () => {
    const { intent } = parseIntentYaml(withConstraint('fracfit: "0.5"'));
    const m = intentToMomo(intent);
    assert.equal(m.Targets[0]!.ID, 'factory.all');
    assert.equal(m.Targets[0]!.Constraints.numround, '');
    assert.equal(m.Targets[0]!.Constraints.fracfit, '0.5');
    const back = intentFromMomo(m).intent;
    assert.deepEqual(back.targets[0]!.constraints, { privacylevel: 'high', fracfit: '0.5' });
    assert.deepEqual(back.targets[0]!.parsed, { privacylevel: 'high', fracfit: 0.5 });
  });

  it('rejects a bad MoMo intent with 422 naming the field', () => {
    assert.throws(
      () =>
        intentFromMomo({
          intentID: 'x',
          Targets: [{ ID: 'a', operation: 'b', operand: 'c', Constraints: { fracfit: '7' } }],
        }),
      (e: unknown) =>
        e instanceof IntentError &&
        e.status === 422 &&
        /MoMo Deploy: targets\[0\]\.constraints\.fracfit: got "7"/.test(e.message),
    );
  });
});

describe('FL setting rules', () => {
  it('match the adapter ranges at their edges', () => {
    assert.equal(checkFlSetting('fracfit', '1').ok, true);
    assert.equal(checkFlSetting('fracfit', '0.0001').ok, true);
    assert.equal(checkFlSetting('fracfit', '0').ok, false);
    assert.equal(checkFlSetting('numround', '10000').ok, true);
    assert.equal(checkFlSetting('numround', '10001').ok, false);
    assert.equal(checkFlSetting('minav', ' 3 ').ok, true);
    assert.equal(checkFlSetting('minav', '').ok, false);
    assert.deepEqual(checkFlSetting('avgalgo', 'FEDAVG'), { ok: true, value: 'fedavg' });
    assert.deepEqual(checkFlSetting('sameserv', 'NOR'), { ok: true, value: 'nor' });
  });

  // The name lists come from common/ (strategies.ts, datasets.ts, models.ts), which the adapter's
  // tables are typed against; check that those tables hold exactly the names the MLFO validates
  // against. Read the adapter's sources rather than importing them, which would load tfjs.
  const adapterList = (file: string, name: string): string[] | undefined => {
    const path = join(root, 'flower-adapter/src', file);
    if (!existsSync(path)) return undefined;
    const m = new RegExp(`export const ${name} = \\[([^\\]]*)\\]`).exec(readFileSync(path, 'utf8'));
    assert.ok(m, `${name} not found in ${path}`);
    return [...m[1]!.matchAll(/'([^']+)'/g)].map((x) => x[1]!);
  };
  // the keys of a name table `export const NAME = {\n  key: …,\n  key,\n} satisfies …` (one entry a line)
  const adapterTable = (file: string, name: string): string[] | undefined => {
    const path = join(root, 'flower-adapter/src', file);
    if (!existsSync(path)) return undefined;
    const m = new RegExp(`export const ${name} = \\{\\n([\\s\\S]*?)\\n\\} satisfies`).exec(
      readFileSync(path, 'utf8'),
    );
    assert.ok(m, `table ${name} not found in ${path}`);
    return [...m[1]!.matchAll(/^ {2}([A-Za-z_$][\w$]*)\s*[:,]/gm)].map((x) => x[1]!);
  };
  const lists: Array<[string, string, readonly string[], (l: string[]) => void]> = [
    [
      '../../common/strategies.ts',
      'STRATEGY_NAMES',
      STRATEGY_NAMES,
      (l) => assert.deepEqual([...STRATEGY_NAMES], l),
    ],
    ['ml/datasets/registry.ts', 'DATASETS', SOURCE_NAMES, (l) => assert.deepEqual([...SOURCE_NAMES], l)],
    [
      'ml/models.ts',
      'MODELS',
      MODEL_NAMES,
      (l) => {
        assert.deepEqual(
          [...MODEL_NAMES].filter((m) => m !== 'mobilenet'),
          l,
          'MLFO model names = adapter models + mobilenet',
        );
        assert.deepEqual(
          [...ADAPTER_MODEL_NAMES],
          l,
          'the models the MLFO takes as trainable = the adapter table',
        );
      },
    ],
  ];
  for (const [file, name, , check] of lists) {
    it(`mirror ${name} of flower-adapter/src/${file}`, (t) => {
      const l = name.endsWith('_NAMES') ? adapterList(file, name) : adapterTable(file, name);
      if (l === undefined) {
        t.skip(`flower-adapter/src/${file} does not exist yet`);
        return;
      }
      check(l);
    });
  }
});
