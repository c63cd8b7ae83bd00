#!/usr/bin/env node
// Finds the project's *.test.ts files (or those under the folders given) and runs them with
// node's own test runner, TypeScript loaded through tsx. Node 20's runner does not glob .ts files.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('-'));
const searchIn =
  roots.length > 0 ? roots : ['common', 'flower-adapter', 'mlfo', 'topology', 'intents', 'monitoring'];

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = [];
for (const r of searchIn) {
  const abs = join(root, r);
  if (statSync(abs, { throwIfNoEntry: false })?.isFile()) files.push(abs);
  else walk(abs, files);
}
files.sort();
if (files.length === 0) {
  console.error(`no *.test.ts files under ${searchIn.join(', ')}`);
  process.exit(1);
}
console.log(`running ${files.length} test files: ${files.map((f) => relative(root, f)).join(' ')}`);
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...passThrough, ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(res.status ?? 1);
