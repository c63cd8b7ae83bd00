// Runs every benchmark in turn (or those named: `npm run bench -- aggregation training`), each
// printing its figures and writing bench/results/<name>.json, then writes a summary of all.

import { mkdirSync, writeFileSync } from 'node:fs';

const BENCHES: Record<string, () => Promise<{ run: () => Promise<Record<string, unknown>> }>> = {
  aggregation: () => import('./aggregation.ts'),
  'round-overhead': () => import('./round-overhead.ts'),
  training: () => import('./training.ts'),
  'adapter-memory': () => import('./adapter-memory.ts'),
  orchestration: () => import('./orchestration.ts'),
  intake: () => import('./intake.ts'),
  'topology-bringup': () => import('./topology-bringup.ts'),
  'fl-scale': () => import('./fl-scale.ts'),
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in BENCHES));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; allowed: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}
const summary: Record<string, unknown> = { at: new Date().toISOString() };
let failed = 0;
for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHES)) {
  console.log(`\n== ${name}`);
  try {
    summary[name] = await (await BENCHES[name]!()).run();
  } catch (err) {
    failed += 1;
    summary[name] = { error: (err as Error).message };
    console.error(`${name} failed: ${(err as Error).stack ?? err}`);
  }
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/summary.json', import.meta.url), `${JSON.stringify(summary, null, 2)}\n`);
console.log('\nfigures written to bench/results/');
process.exit(failed > 0 ? 1 : 0);
