// The import rule between components: a component's src/ (mlfo, flower-adapter, topology, intents)
// imports only itself and common/ (so mlfo/src never imports topology/src, nor the reverse);
// common/ imports no component. Tests (*/test/), bench/ and scripts/ may reach across.
// The scan reads every .ts file of the repository and names file:line and the import it objects to.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..', '..');
const COMPONENTS = ['mlfo', 'flower-adapter', 'topology', 'intents'];
const SKIP = new Set(['node_modules', 'dist', 'runs', 'data']);

export interface ImportSite {
  /** repository-relative, '/'-separated */
  file: string;
  line: number;
  /** as written in the source */
  specifier: string;
  /** what it points at, repository-relative */
  target: string;
}

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name) || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

// static imports and re-exports (`... from '…'`), side-effect imports (`import '…'`), and
// dynamic imports with a literal (`import('…')`)
const IMPORT_RE = /\bfrom\s*'([^']+)'|\bimport\s*'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g;

/** The relative imports of the repository's .ts files. */
export function importSites(root = ROOT): ImportSite[] {
  const sites: ImportSite[] = [];
  for (const abs of tsFiles(root)) {
    const text = readFileSync(abs, 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const specifier = (m[1] ?? m[2] ?? m[3])!;
      if (!specifier.startsWith('.')) continue;
      const target = relative(root, resolve(dirname(abs), specifier))
        .split(sep)
        .join('/');
      const line = text.slice(0, m.index + m[0].indexOf(specifier)).split('\n').length;
      sites.push({ file: relative(root, abs).split(sep).join('/'), line, specifier, target });
    }
  }
  return sites;
}

const top = (path: string): string => path.split('/')[0]!;
const inSrc = (path: string, component: string): boolean => path.startsWith(`${component}/src/`);

/** Why an import breaks the rule, or undefined when it does not. */
export function violation(s: ImportSite): string | undefined {
  const from = top(s.file);
  const to = top(s.target);
  if (from === 'common' && !s.file.startsWith('common/test/') && to !== 'common') {
    return `common/ imports ${to}/`;
  }
  if (COMPONENTS.includes(from) && inSrc(s.file, from) && to !== from && to !== 'common') {
    return `${from}/src imports ${to}/; it may import only ${from}/ and common/`;
  }
  return undefined;
}

describe('component boundaries', () => {
  it('the rule catches what it is about', () => {
    const site = (file: string, target: string): ImportSite => ({ file, line: 1, specifier: '', target });
    assert.ok(violation(site('mlfo/src/inventory.ts', 'topology/src/spec/spec-yaml.ts')));
    assert.equal(
      violation(site('mlfo/test/inventory.test.ts', 'topology/src/generators/seed.ts')),
      undefined,
    );
    assert.ok(violation(site('topology/src/experiment/run-experiment.ts', 'mlfo/src/intent/x.ts')));
    assert.ok(violation(site('intents/src/sendintent.ts', 'mlfo/src/intent/cohort-config.ts')));
    assert.ok(violation(site('mlfo/src/metrics.ts', 'flower-adapter/src/net-dev.ts')));
    assert.ok(violation(site('common/yaml/located-yaml.ts', 'mlfo/src/intent/intent-schema.ts')));
    assert.equal(violation(site('mlfo/src/metrics.ts', 'common/net-dev.ts')), undefined);
    assert.equal(violation(site('mlfo/src/main.ts', 'mlfo/src/config.ts')), undefined);
    assert.equal(violation(site('monitoring/test/compose.test.ts', 'topology/src/x.ts')), undefined);
    assert.equal(violation(site('bench/fl-scale.ts', 'flower-adapter/src/x.ts')), undefined);
  });

  it('no file imports across the boundaries', () => {
    const sites = importSites();
    assert.ok(sites.length > 100, `found only ${sites.length} relative imports; is ROOT (${ROOT}) right?`);
    const bad = sites.flatMap((s) => {
      const why = violation(s);
      return why === undefined ? [] : [`${s.file}:${s.line}: import '${s.specifier}' (${why})`];
    });
    assert.deepEqual(bad, [], `imports across component boundaries:\n${bad.join('\n')}`);
  });
});
