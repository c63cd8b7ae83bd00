// The README's first command, run as a user runs it (defaults: the seed topology with 3 cohorts and
// 12 clients, netns as root, the three seed intents through sendintent): it must end with every
// cohort completed at a held-out accuracy of at least 0.85, write its report and chart, and leave
// nothing of its run on the machine.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanEmulation } from '../src/backend.ts';
import type { ExperimentReport } from '../src/experiment/experiment-report.ts';
import { procInfo } from '../src/netns/teardown.ts';
import { netnsLeftovers } from './support/netns-leftovers.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

test('npm run demo: 3 cohorts complete with accuracy ≥ 0.85; report, chart, logs; nothing left', {
  timeout: 1_200_000,
}, async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'mlfo-demo-'));
  let child: ChildProcess | undefined;
  try {
    // tsx resolved from this repository: the demo runs in an empty directory (its runs/ go there)
    const demo = spawn(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), join(REPO, 'scripts/demo.ts'), '--min-accuracy', '0.85'],
      {
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_OPTIONS: '' },
      },
    );
    let out = '';
    child = demo;
    demo.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    demo.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise<number | null>((r) => demo.on('exit', (c) => r(c)));
    const [runId] = existsSync(join(cwd, 'runs')) ? readdirSync(join(cwd, 'runs')) : [];
    assert.ok(runId, `no run directory; output:\n${out}`);
    const runDir = join(cwd, 'runs', runId);
    assert.equal(code, 0, `demo exited ${code}:\n${out.slice(-6000)}`);

    const report = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as ExperimentReport;
    assert.equal(report.ok, true);
    assert.equal(report.cohorts.length, 3);
    for (const c of report.cohorts) {
      assert.equal(c.state, 'completed');
      assert.equal(c.clients, 4);
      assert.equal(c.rounds, 5);
      assert.ok((c.finalAccuracy ?? 0) >= 0.85, `cohort ${c.cohort} accuracy ${c.finalAccuracy}`);
      assert.ok((c.flBytes ?? 0) > 0, `cohort ${c.cohort} FL bytes`);
      assert.ok(c.intentToTrainingS !== undefined && c.intentToTrainingS > 0);
      console.log(
        `# cohort ${c.cohort} (${c.intent}): accuracy ${c.finalAccuracy?.toFixed(3)}, intent→training ${c.intentToTrainingS?.toFixed(2)} s, ${((c.flBytes ?? 0) / 1e6).toFixed(1)} MB`,
      );
    }
    console.log(`# demo on ${report.backend}: ${JSON.stringify(report.seconds)}`);
    assert.match(report.catalog, /catalog\.digits\.yaml$/, 'the report names the stand-in catalog');
    // the table and the chart
    assert.match(out, /cohort\s+intent\s+clients\s+rounds\s+final acc\./);
    const svg = readFileSync(join(runDir, 'accuracy.svg'), 'utf8');
    assert.equal((svg.match(/<path /g) ?? []).length, 3, 'one accuracy line per cohort');
    for (const host of ['cloud.0', 'mo.1', 'fed.1', 'fc.10', 'fc.21']) {
      assert.ok(existsSync(join(runDir, 'logs', `${host}.log`)), `log of ${host}`);
    }

    // nothing of the run is left: its processes, and on netns its namespaces, interfaces, cgroups
    const state = JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')) as {
      phase: string;
      processes: { pid: number }[];
    };
    assert.equal(state.phase, 'stopped');
    for (const p of state.processes) assert.ok(!procInfo(p.pid)?.alive, `pid ${p.pid} still alive`);
    if (report.backend === 'netns') assert.deepEqual(netnsLeftovers(runId), []);
  } finally {
    // a demo that failed or hung: end it and remove what its run left before the directory goes
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child?.once('exit', r));
      child.kill('SIGINT');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 30_000))]);
      child.kill('SIGKILL');
    }
    const runs = join(cwd, 'runs');
    for (const id of existsSync(runs) ? readdirSync(runs) : []) {
      await cleanEmulation(id, runs).catch((err: Error) => console.error(`clean of ${id}: ${err.message}`));
    }
    rmSync(cwd, { recursive: true, force: true });
  }
});
