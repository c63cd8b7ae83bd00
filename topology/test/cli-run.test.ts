// mlfo-topo's run commands as a user runs them, each a separate process (as root, netns backend):
// the seed topology with 5 cohorts and 50 clients brought up, pinged, measured, metered, limited
// and torn down; node programs started by `up` and seen healthy by `status`; Ctrl-C and SIGKILL
// during `up`, then `clean`, leave nothing of the run.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { procInfo } from '../src/netns/teardown.ts';
import { netnsLeftovers, netnsSkipReason } from './support/netns-leftovers.ts';

const CLI = fileURLToPath(new URL('../../bin/mlfo-topo.mjs', import.meta.url));
const skip = netnsSkipReason();
if (skip) console.log(`# mlfo-topo run tests skipped: ${skip}`);

const runsDir = mkdtempSync(join(tmpdir(), 'mlfo-cli-runs-'));
const runIds: string[] = [];
const newRunId = () => {
  const id = `c${process.pid}${Math.random().toString(36).slice(2, 6)}`;
  runIds.push(id);
  return id;
};

after(() => {
  if (!skip) for (const id of runIds) cli('clean', '--run', id);
  rmSync(runsDir, { recursive: true, force: true });
});

function cli(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, MLFO_RUNS_DIR: runsDir },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function recordedPids(runId: string): number[] {
  const file = join(runsDir, runId, 'state.json');
  if (!existsSync(file)) return [];
  return (JSON.parse(readFileSync(file, 'utf8')) as { processes: { pid: number }[] }).processes.map(
    (p) => p.pid,
  );
}

test('seed topology, 5 cohorts / 50 clients: up, pingall, iperf over 100 Mbit/s, meter, limit, exec, down', {
  skip,
  timeout: 600_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlfo-cli-seed-'));
  const spec = join(dir, 'seed.yaml');
  try {
    assert.equal(cli('generate', 'seed', '--cohorts', '5', '-o', spec).code, 0);
    const runId = newRunId();
    const t0 = Date.now();
    const up = cli('up', spec, '--run-id', runId, '--no-programs', '--links-without-delay', '--no-publish');
    assert.equal(up.code, 0, up.err);
    console.log(`# seed (5 cohorts) up in ${Date.now() - t0} ms (CLI process included)`);
    assert.match(up.err, /WITHOUT their delay|without/i);

    const st = JSON.parse(cli('status', '--json', '--no-health', '--run', runId).out) as {
      hosts: { name: string; role: string }[];
      switches: unknown[];
      linksWithoutDelay: string[];
    };
    assert.equal(st.hosts.length, 60);
    assert.equal(st.hosts.filter((h) => h.role === 'fl-client').length, 50);
    assert.equal(st.hosts.filter((h) => h.role === 'fl-server').length, 5);
    assert.equal(st.switches.length, 8);
    assert.equal(st.linksWithoutDelay.length, 2, 'the two 12 ms links are recorded as run without delay');

    // one run up: commands find it without --run
    const ping = cli('pingall');
    assert.equal(ping.code, 0, ping.out + ping.err);
    assert.match(ping.out, /60 hosts, 3540 pairs, 3540 sent, 3540 received: 0 % lost/);

    assert.equal(cli('link', 'fed.1', 'aggsw10', '--bandwidth-mbps', '100').code, 0);
    const shaped = JSON.parse(cli('iperf', 'fc.10', 'fed.1', '--seconds', '3', '--json').out) as {
      mbps: number;
    };
    console.log(`# fc.10 → fed.1 over a 100 Mbit/s link: ${shaped.mbps} Mbit/s`);
    assert.ok(shaped.mbps >= 90 && shaped.mbps <= 101, `100 Mbit/s link measured ${shaped.mbps}`);
    const wide = JSON.parse(cli('iperf', 'fc.11', 'fed.3', '--seconds', '3', '--json').out) as {
      mbps: number;
    };
    console.log(`# fc.11 → fed.3 over 500 Mbit/s links: ${wide.mbps} Mbit/s`);
    assert.ok(wide.mbps > 300, `500 Mbit/s path measured ${wide.mbps}`);

    // the seed's meter: cohort 2's uplink (clients → fed.2) capped at 50 Mbit/s
    const meter = cli('meter', '--cohort', '2', '--up', '50', '--down', '80');
    assert.equal(meter.code, 0, meter.err);
    assert.match(meter.out, /uplink 50 Mbit\/s, downlink 80 Mbit\/s/);
    const metered = JSON.parse(cli('iperf', 'fc.12', 'fed.2', '--seconds', '3', '--json').out) as {
      mbps: number;
    };
    console.log(`# fc.12 → fed.2 metered at 50 Mbit/s: ${metered.mbps} Mbit/s`);
    assert.ok(metered.mbps >= 44 && metered.mbps <= 51, `metered uplink measured ${metered.mbps}`);
    assert.equal(cli('meter', '--cohort', '2', '--clear').code, 0);
    assert.equal(cli('meter', '--cohort', '9', '--up', '1').code, 1, 'no cohort 9');

    // a bandwidth change on a link whose 12 ms delay is not applied (no netem here) still works
    const sat = cli('link', 'satsw11', 'aggsw10', '--bandwidth-mbps', '200');
    assert.equal(sat.code, 0, sat.err);
    assert.match(sat.out, /200 Mbit\/s/);

    const lim = cli('limit', 'fc.10', '--cpus', '0.5', '--memory-mb', '256');
    assert.equal(lim.code, 0, lim.err);
    assert.match(lim.out, /fc\.10: cpus 0\.5, memory 256 MiB/);
    const ex = cli('exec', 'fc.10', '--', 'ip', '-o', '-4', 'addr', 'show');
    assert.equal(ex.code, 0, ex.err);
    assert.match(ex.out, /10\.0\.1\.10\/16/);
    assert.doesNotMatch(ex.out, /10\.0\.1\.11\//);
    assert.equal(cli('exec', 'nosuch', '--', 'true').code, 1);
    const bare = cli('exec', 'fc.11', 'ip', '-o', '-4', 'addr', 'show');
    assert.equal(bare.code, 0, bare.err);
    assert.match(bare.out, /10\.0\.1\.11\/16/);
    assert.equal(cli('exec', 'fc.11', 'sh', '-c', 'exit 7').code, 7);

    const down = cli('down');
    assert.equal(down.code, 0, down.err);
    assert.deepEqual(netnsLeftovers(runId), []);
    assert.equal(cli('status').code, 1, 'no run is up any more');
  } finally {
    cli('clean', '--run', runIds.at(-1) ?? '');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('up runs the node programs by role, status shows them healthy, down ends them all', {
  skip,
  timeout: 600_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlfo-cli-progs-'));
  const spec = join(dir, 'seed.yaml');
  try {
    assert.equal(
      cli('generate', 'seed', '--cohorts', '1', '--clients', '2', '--no-delays', '-o', spec).code,
      0,
    );
    const runId = newRunId();
    const up = cli(
      'up',
      spec,
      '--run-id',
      runId,
      '--no-publish',
      '--roles',
      'mlfo-cloud,mlfo-edge,fl-server,fl-client,traffic-source,traffic-sink',
    );
    assert.equal(up.code, 0, up.err);
    const st = JSON.parse(cli('status', '--json', '--run', runId).out) as {
      health: Record<string, string>;
      hosts: { name: string; processes: { alive: boolean }[] }[];
    };
    for (const host of ['cloud.0', 'mo.1', 'fed.1', 'fc.10', 'fc.11', 'app.1', 'appserv.0']) {
      assert.match(st.health[host] ?? 'missing', /^ok/, `${host}: ${st.health[host]}`);
      const h = st.hosts.find((x) => x.name === host);
      assert.ok(h && h.processes.length > 0 && h.processes.every((p) => p.alive), `${host} processes alive`);
    }
    const pids = recordedPids(runId);
    assert.ok(pids.length >= 7);
    assert.equal(cli('down', '--run', runId).code, 0);
    assert.deepEqual(netnsLeftovers(runId, pids), []);
  } finally {
    cli('clean', '--run', runIds.at(-1) ?? '');
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const how of ['SIGINT', 'SIGKILL'] as const) {
  test(`${how} during up${how === 'SIGKILL' ? ', then clean,' : ''} leaves nothing of the run`, {
    skip,
    timeout: 300_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlfo-cli-kill-'));
    const spec = join(dir, 'seed.yaml');
    try {
      assert.equal(
        cli('generate', 'seed', '--cohorts', '2', '--clients', '6', '--no-delays', '-o', spec).code,
        0,
      );
      const runId = newRunId();
      const child = spawn(
        process.execPath,
        [CLI, 'up', spec, '--run-id', runId, '--runs-dir', runsDir, '--no-publish'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      // wait until the network is up and node programs are starting, then interrupt
      const deadline = Date.now() + 120_000;
      while (!/network up/.test(err) || recordedPids(runId).length < 3) {
        assert.ok(
          Date.now() < deadline && child.exitCode === null,
          `up did not reach its node programs: ${err}`,
        );
        await new Promise((r) => setTimeout(r, 50));
      }
      const pids = recordedPids(runId);
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill(how);
      const code = await exited;
      if (how === 'SIGINT') {
        assert.equal(code, 130, err);
      } else {
        const clean = cli('clean', '--run', runId);
        assert.equal(clean.code, 0, clean.err);
      }
      assert.deepEqual(netnsLeftovers(runId, pids), []);
      for (const p of pids) assert.ok(!procInfo(p)?.alive, `pid ${p} still alive`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('up --foreground stays until Ctrl-C, clean refuses a run whose owner lives, SIGINT tears down', {
  skip,
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlfo-cli-fg-'));
  const spec = join(dir, 'seed.yaml');
  try {
    assert.equal(
      cli('generate', 'seed', '--cohorts', '1', '--clients', '2', '--no-delays', '-o', spec).code,
      0,
    );
    const runId = newRunId();
    const child = spawn(
      process.execPath,
      [CLI, 'up', spec, '--run-id', runId, '--no-programs', '--no-publish', '--foreground'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, MLFO_RUNS_DIR: runsDir },
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 60_000;
    while (!/Ctrl-C tears the run down/.test(out)) {
      assert.ok(
        Date.now() < deadline && child.exitCode === null,
        `foreground up ended early (${child.exitCode}): ${out}`,
      );
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(child.exitCode, null, 'still running a second later');
    const refused = cli('clean', '--run', runId);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /its owner \(pid \d+\) is running/);
    assert.equal(cli('pingall', '--run', runId).code, 0, 'the refused clean left the run intact');
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.deepEqual(netnsLeftovers(runId), []);
  } finally {
    cli('clean', '--run', runIds.at(-1) ?? '');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('usage and run-selection errors are clear', () => {
  const r = cli('link', 'a');
  assert.equal(r.code, 2);
  assert.match(r.err, /expected the two ends A B/);
  const none = cli('status', '--run', 'nosuchrun');
  assert.equal(none.code, 1);
  assert.match(none.err, /no run nosuchrun in /);
  const bad = cli('limit', 'h1', '--cpus', '0');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--cpus: got "0"; allowed: a number in \[0\.01, 1024\] or none/);
});
