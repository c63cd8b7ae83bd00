// mlfo-topo generate / validate through main(), output captured.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { main } from '../src/cli.ts';
import { parseTopologyYaml } from '../../common/topology-spec/spec-yaml.ts';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

const tmp = mkdtempSync(join(tmpdir(), 'mlfo-topo-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('mlfo-topo CLI', () => {
  it('generate seed writes YAML to stdout', async () => {
    const r = await run('generate', 'seed', '--cohorts', '3');
    assert.equal(r.code, 0, r.err);
    const spec = parseTopologyYaml(r.out).spec;
    assert.equal(spec.hosts.filter((h) => h.role === 'fl-client').length, 50);
  });

  it('generate seed scales down, drops delays and writes a file', async () => {
    const file = join(tmp, 'topo.yaml');
    const r = await run(
      'generate',
      'seed',
      '--campuses',
      '3',
      '--clients-per-campus',
      '4',
      '--no-delays',
      '-o',
      file,
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /wrote .*topo\.yaml: 20 hosts, 6 switches, 25 links/);
    const spec = parseTopologyYaml(readFileSync(file, 'utf8')).spec;
    assert.ok(spec.links.every((l) => l.delayMs === undefined));
  });

  it('generate linear|star N', async () => {
    const r = await run('generate', 'star', '3', '--bandwidth-mbps', '100', '--fl');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\{a: h3, b: s1, bandwidthMbps: 100\}/);
    assert.equal((await run('generate', 'linear', '2')).code, 0);
  });

  it('usage errors exit 2 with what is allowed', async () => {
    const r = await run('generate', 'ring');
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown generator "ring"; allowed: seed, linear, star/);
    assert.match((await run('generate', 'seed', '--cohort', '3')).err, /Unknown option '--cohort'/);
    assert.match(
      (await run('generate', 'seed', '--cohorts', 'three')).err,
      /--cohorts "three"; allowed: a number/,
    );
    assert.match((await run('frobnicate')).err, /unknown command "frobnicate"; allowed: generate, validate/);
  });

  it('generator limits exit 1 naming the option', async () => {
    const r = await run('generate', 'seed', '--campuses', '12');
    assert.equal(r.code, 1);
    assert.match(r.err, /seed generator: campuses: got 12; allowed: an integer 1–9/);
  });

  it('validate prints every problem and exits 1', async () => {
    const dir = tmp;
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'name: bad\nhosts:\n  - {name: h1, ip: 10.0.0.1/24, role: plain}\n  - {name: h2, ip: 10.0.0.1/24, role: plain, cpu: 1}\nswitches: [{name: s1}]\nlinks:\n  - {a: h1, b: s1, bandwidthMbps: 0}\n  - {a: h2, b: s1}\n',
    );
    const r = await run('validate', file);
    assert.equal(r.code, 1);
    assert.match(r.err, /bad\.yaml:4:16: hosts\[1\]\.ip: host h2: address 10\.0\.0\.1 is already host h1's/);
    assert.match(r.err, /bad\.yaml:4:46: hosts\[1\]\.cpu: unknown key "cpu"/);
    assert.match(r.err, /bad\.yaml:7:20: links\[0\]\.bandwidthMbps: link h1–s1: bandwidthMbps 0/);
    assert.match(r.err, /3 problems/);
    const good = join(dir, 'good.yaml');
    await run('generate', 'seed', '-o', good);
    const ok = await run('validate', good);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /valid: 58 hosts, 8 switches, 65 links; 4 link directions need netem/);
  });

  it('help lists the subcommands', async () => {
    const r = await run('help');
    assert.equal(r.code, 0);
    assert.match(r.out, /generate +write a generated topology/);
    assert.match((await run('help', 'generate')).out, /--clients-per-campus N/);
  });
});
