// Peak memory of real flower-adapter processes during a real FL session: one server node and
// four client nodes on loopback, each client on 1/4 of the digits, a few rounds of `simple` and
// `complex`. Reads each process's VmHWM (peak resident set) from /proc after the session ended.
// Target: ≤ 150 MB per client process, so 50 clients fit in a few GB.
// Writes bench/results/adapter-memory.json. Run: npx tsx bench/adapter-memory.ts

import { readFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnAdapter, type StartedAdapter } from '../flower-adapter/test/support/spawn-adapter.ts';
import type { SessionStatus } from '../flower-adapter/src/sessions/session.ts';
import { isEnded } from '../common/ended-states.ts';
import { postForm } from './post-form.ts';

const TARGET_MB = 150;

function vmHwmMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function session(model: 'simple' | 'complex', net: string): Promise<Record<string, unknown>> {
  const logDir = mkdtempSync(join(tmpdir(), 'mlfo-bench-mem-'));
  const nodes: StartedAdapter[] = [];
  try {
    for (const i of [1, 10, 11, 12, 13]) {
      nodes.push(
        await spawnAdapter({ host: `${net}.${i}`, nodeId: `n${i}`, logFile: join(logDir, `n${i}.log`) }),
      );
    }
    const [srv, ...clis] = nodes;
    const s = await postForm(`${srv!.url}/serv`, {
      minfit: '4',
      minav: '4',
      numround: '3',
      model,
      source: 'handmnist',
      session: 'mem',
    });
    await Promise.all(
      clis.map((c, part) =>
        postForm(`${c.url}/cli`, {
          source: 'handmnist',
          model,
          server: String(s['address']),
          cohsize: '4',
          part: String(part),
          session: 'mem',
        }),
      ),
    );
    const t0 = Date.now();
    for (;;) {
      const st = (await (await fetch(`${srv!.url}/sessions/mem`)).json()) as SessionStatus;
      if (isEnded(st.state)) {
        if (st.state !== 'completed') throw new Error(`session ${st.state}: ${st.errors.join('; ')}`);
        break;
      }
      if (Date.now() - t0 > 600_000) throw new Error('session did not end in 10 minutes');
      await new Promise((r) => setTimeout(r, 200));
    }
    const clientPeaks = clis.map((c) => vmHwmMb(c.pid));
    return {
      model,
      serverPeakMb: Math.round(vmHwmMb(srv!.pid)),
      clientPeakMb: clientPeaks.map((x) => Math.round(x)),
      clientPeakMaxMb: Math.round(Math.max(...clientPeaks)),
      sessionSeconds: (Date.now() - t0) / 1000,
    };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(logDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const net = `127.${100 + (process.pid % 150)}.${(process.pid >> 8) % 250}`;
  const results = [await session('simple', net), await session('complex', net)];
  const { distIsFresh } = await import('../bin/launch.mjs');
  const out = {
    targetClientMb: TARGET_MB,
    runsCompiledBuild: distIsFresh(),
    results,
  };
  for (const r of results) {
    console.log(
      `adapter memory, ${r['model']}: client peak RSS ${r['clientPeakMaxMb']} MB (target ≤ ${TARGET_MB}), server ${r['serverPeakMb']} MB`,
    );
  }
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('adapter-memory.json', dir), `${JSON.stringify(out, null, 2)}\n`);
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
