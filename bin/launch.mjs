// Starts a program of this project: its compiled form under dist/ when that is up to date,
// else its TypeScript source through tsx. "Up to date" means dist/.build-stamp is newer than
// every file under the source folders, so an edited source is never shadowed by an old build.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// common/ holds the contracts the components share; its test/ folder is not compiled (tsconfig.build.json).
export const SOURCE_DIRS = ['common', 'flower-adapter/src', 'mlfo/src', 'topology/src', 'intents/src'];
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    if (name === 'test') continue;
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(p) : st.mtimeMs);
  }
  return newest;
}

export function distIsFresh() {
  if (process.env.MLFO_FROM_SOURCE === '1') return false;
  const stamp = statSync(join(root, 'dist', '.build-stamp'), { throwIfNoEntry: false });
  if (!stamp) return false;
  return SOURCE_DIRS.every((d) => newestMtime(join(root, d)) <= stamp.mtimeMs);
}

/** Imports `src` (a .ts path relative to the project root) and returns the module. */
export async function load(src) {
  if (distIsFresh()) return import(pathToFileURL(join(root, 'dist', src.replace(/\.ts$/, '.js'))).href);
  const { register } = await import('tsx/esm/api');
  register();
  return import(pathToFileURL(join(root, src)).href);
}
