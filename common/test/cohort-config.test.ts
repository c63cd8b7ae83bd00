import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CohortConfigError,
  DEFAULT_MLFOADD,
  loadCohortConfig,
  parseCohortConfig,
  planCohortPosts,
} from '../intent/cohort-config.ts';

const intentsDir = new URL('../../intents', import.meta.url).pathname;

describe('shipped cohort configs', () => {
  it('seed.yaml: [30,10,10] → ipstart 10, 40, 50 with the seed fields', () => {
    const cfg = loadCohortConfig(join(intentsDir, 'cohorts/seed.yaml'));
    assert.deepEqual(cfg.warnings, []);
    assert.equal(cfg.timegapSeconds, 1);
    assert.deepEqual(
      cfg.cohorts.map((c) => [c.size, c.intentID]),
      [
        [30, 'edgeintent03'],
        [10, 'edgeintent01'],
        [10, 'edgeintent02'],
      ],
    );
    const posts = planCohortPosts(cfg);
    assert.deepEqual(
      posts.map((p) => [p.fields.ipstart, p.fields.cohortsize, p.fields.sameserver]),
      [
        ['10', '30', 'nor'],
        ['40', '10', 'no'],
        ['50', '10', 'no'],
      ],
    );
    assert.deepEqual(posts[0]!.fields, {
      ipstart: '10',
      cohortsize: '30',
      sameserver: 'nor',
      avgalgo: 'FedAvg',
      fracfit: '0.5',
      minfit: '1',
      minav: '1',
      numround: '20',
    });
    assert.equal(posts[0]!.intentFile, join(intentsDir, '3intent.yaml'));
  });

  it('small.yaml: [4,2,2] → ipstart 10, 14, 16, three rounds, no gap', () => {
    const cfg = loadCohortConfig(join(intentsDir, 'cohorts/small.yaml'));
    assert.equal(cfg.timegapSeconds, 0);
    const posts = planCohortPosts(cfg);
    assert.deepEqual(
      posts.map((p) => [p.fields.ipstart, p.fields.cohortsize, p.fields.numround]),
      [
        ['10', '4', '3'],
        ['14', '2', '3'],
        ['16', '2', '3'],
      ],
    );
    assert.deepEqual(
      cfg.cohorts.map((c) => c.intentID),
      ['edgeintent01', 'edgeintent02', 'edgeintent03'],
    );
  });
});

describe('parseCohortConfig', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mlfo-cohort-'));
    copyFileSync(join(intentsDir, 'intent.yaml'), join(dir, 'intent.yaml'));
    writeFileSync(join(dir, 'bad.yaml'), 'intentID: x\ntargets: []\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const base = (extra = '', sizes = '[3, 2]', intents = '[intent.yaml, intent.yaml]') =>
    `cohortdistr: ${sizes}\nintentdist: ${intents}\n${extra}`;

  it('needs only cohortdistr and intentdist; the other lists are left to the intent and catalog', () => {
    const cfg = parseCohortConfig(base(), 'c.yaml', dir);
    assert.equal(cfg.mlfoadd, DEFAULT_MLFOADD);
    assert.deepEqual(
      planCohortPosts(cfg).map((p) => p.fields),
      [
        { ipstart: '10', cohortsize: '3' },
        { ipstart: '13', cohortsize: '2' },
      ],
    );
  });

  it('warns when a cohort is smaller than its minav and its server is not shared', () => {
    const cfg = parseCohortConfig(base('minavdist: [5, 1]\nminfitdist: [1, 1]\n'), 'c.yaml', dir);
    assert.equal(cfg.warnings.length, 1);
    assert.match(
      cfg.warnings[0]!,
      /^c\.yaml:3:12: minavdist\[0\]: minav 5 is more than cohort 0's 3 clients/,
    );
  });

  it('takes sameserver yes on every cohort: the first places the shared FL server, the next ones join it', () => {
    const cfg = parseCohortConfig(
      base('sameserverdist: [yes, yes]\nminfitdist: [5, 5]\nminavdist: [5, 5]\n'),
      'c.yaml',
      dir,
    );
    assert.deepEqual(cfg.warnings, [], 'minav 5 over the two cohorts (3 + 2 clients) is reachable');
    assert.deepEqual(
      planCohortPosts(cfg).map((p) => p.fields.sameserver),
      ['yes', 'yes'],
    );
  });

  type Case = [name: string, text: string, fragment: RegExp, where?: { line: number; column?: number }];
  const cases: Case[] = [
    [
      'list shorter than cohortdistr',
      base('fracfitdist: ["0.5"]\n'),
      /fracfitdist: has 1 value but cohortdistr has 2; allowed: one value per cohort \(2\)/,
      { line: 3, column: 14 },
    ],
    [
      'intentdist longer',
      base('', '[3, 2]', '[intent.yaml, intent.yaml, intent.yaml]'),
      /intentdist: has 3 values but cohortdistr has 2/,
    ],
    ['missing cohortdistr', 'intentdist: [intent.yaml]\n', /cohortdistr: missing/],
    ['missing intentdist', 'cohortdistr: [1]\n', /intentdist: missing; expected 1 intent file names/],
    ['empty cohortdistr', base('', '[]', '[]'), /cohortdistr: is empty/],
    [
      'cohort size 0',
      base('', '[3, 0]'),
      /cohortdistr\[1\]: got "0"; allowed: an integer ≥ 1/,
      { line: 1, column: 18 },
    ],
    ['cohort size 1.5', base('', '[3, 1.5]'), /cohortdistr\[1\]: got "1\.5"/],
    [
      'too many clients',
      base('', '[200, 50]'),
      /hold 250 clients, which runs from 10\.0\.1\.10 past 10\.0\.1\.254/,
    ],
    [
      'missing intent file',
      base('', '[3, 2]', '[intent.yaml, nope.yaml]'),
      /intentdist\[1\]: intent file "nope\.yaml" not found .* relative to the config file/,
      { line: 2, column: 27 },
    ],
    [
      'invalid intent file',
      base('', '[3, 2]', '[intent.yaml, bad.yaml]'),
      /intentdist\[1\]: intent file bad\.yaml is not a valid intent:\n.*targets: got an empty list/,
    ],
    [
      'fracfit out of range',
      base('fracfitdist: ["0.5", "1.5"]\n'),
      /fracfitdist\[1\]: got "1\.5"; allowed: a number in \(0, 1\]/,
      { line: 3, column: 22 },
    ],
    ['numround 0', base('numrounddist: [0, 1]\n'), /numrounddist\[0\]: got "0"/],
    [
      'unknown avgalgo',
      base('avgalgodist: [FedAvg, FedSgd]\n'),
      /avgalgodist\[1\]: got "FedSgd"; allowed: one of FedAvg, FedAvgM/,
    ],
    [
      'unknown sameserver',
      base('sameserverdist: [no, perhaps]\n'),
      /sameserverdist\[1\]: got "perhaps"; allowed: one of no, nor, yes/,
    ],
    [
      'minfit above minav',
      base('minfitdist: [2, 1]\nminavdist: [1, 1]\n'),
      /minfit 2 is greater than minav 1 for cohort 0/,
    ],
    [
      'a dist that is not a list',
      base('minavdist: 1\n'),
      /minavdist: got number 1; expected a list with one value per cohort/,
    ],
    [
      'unknown key (a typo)',
      base('numroundist: [1, 1]\n'),
      /numroundist: unknown key; allowed: mlfoadd, cohortdistr/,
      { line: 3, column: 1 },
    ],
    [
      'bad mlfoadd',
      base('mlfoadd: 10.0.1.1:8000\n'),
      /mlfoadd: got "10\.0\.1\.1:8000"; allowed: an http:\/\/ or https:\/\/ URL/,
    ],
    ['negative timegap', base('timegap: -1\n'), /timegap: got "-1"; allowed: seconds in \[0, 3600\]/],
    ['not YAML', 'cohortdistr: [1\n', /not valid YAML/],
  ];
  for (const [name, text, fragment, where] of cases) {
    it(name, () => {
      let caught: unknown;
      try {
        parseCohortConfig(text, 'c.yaml', dir);
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof CohortConfigError, `expected a CohortConfigError, got ${String(caught)}`);
      assert.match(caught.message, /^bad cohort config c\.yaml:\n/);
      assert.match(caught.message, fragment);
      if (where !== undefined) {
        const p = caught.problems.find((x) => fragment.test(`${x.path}: ${x.message}`));
        assert.ok(p, caught.message);
        assert.equal(p.line, where.line, caught.message);
        if (where.column !== undefined) assert.equal(p.column, where.column, caught.message);
      }
    });
  }
});
