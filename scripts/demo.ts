// The demo at this stage: on loopback, one flower-adapter as FL server node and four as client
// nodes (separate processes, distinct 127.0.x.y addresses, the seed's ports), one FL session
// started through the REST API, live progress, and a summary. Everything it starts is stopped
// at the end, also on Ctrl-C.
//
//   npm run demo -- [--clients 4] [--rounds 5] [--model simple|complex] [--keep-logs]

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnAdapter, type StartedAdapter } from '../flower-adapter/src/spawn-adapter.ts';
import type { SessionStatus } from '../flower-adapter/src/sessions/session.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '5' },
    model: { type: 'string', default: 'simple' },
    fracfit: { type: 'string', default: '1' },
  },
});
const clients = Number(values.clients);
const rounds = Number(values.rounds);
if (!Number.isInteger(clients) || clients < 1 || clients > 50) {
  console.error('--clients: allowed an integer 1–50');
  process.exit(2);
}

const runId = `demo-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${process.pid}`;
const runDir = join(process.cwd(), 'runs', runId);
mkdirSync(join(runDir, 'logs'), { recursive: true });
const started: StartedAdapter[] = [];
let stopping = false;

async function teardown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await Promise.all(started.map((a) => a.stop()));
  }
  process.exit(code);
}
process.on('SIGINT', () => void teardown(130));
process.on('SIGTERM', () => void teardown(143));

async function post(url: string, fields: Record<string, string>): Promise<Record<string, unknown>> {
  const r = await fetch(url, { method: 'POST', body: new URLSearchParams(fields) });
  const body = (await r.json()) as Record<string, unknown>;
  if (!r.ok) throw new Error(`POST ${url}: HTTP ${r.status}: ${JSON.stringify(body)}`);
  return body;
}

async function status(a: StartedAdapter, id: string): Promise<SessionStatus> {
  return (await (await fetch(`${a.url}/sessions/${id}`)).json()) as SessionStatus;
}

const fmt = (n: number | undefined, d = 4) => (n === undefined ? '–' : n.toFixed(d));

async function main(): Promise<void> {
  console.log(`run ${runId}: logs in ${join('runs', runId, 'logs')}`);
  const nodes = [{ name: 'fed.1', host: '127.0.0.101' }];
  for (let i = 0; i < clients; i++) nodes.push({ name: `fc.${10 + i}`, host: `127.0.1.${10 + i}` });
  process.stdout.write(`starting ${nodes.length} flower-adapter processes … `);
  const t0 = Date.now();
  for (const n of nodes) {
    started.push(
      await spawnAdapter({ host: n.host, nodeId: n.name, logFile: join(runDir, 'logs', `${n.name}.log`) }),
    );
  }
  console.log(`up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const [srv, ...clis] = started;
  const session = `demo-${process.pid}`;
  const serv = await post(`${srv!.url}/serv`, {
    algo: 'fedavg',
    fracfit: values.fracfit,
    minfit: String(Math.max(1, Math.floor(clients * Number(values.fracfit)))),
    minav: String(clients),
    numround: String(rounds),
    model: values.model,
    source: 'handmnist',
    session,
  });
  console.log(
    `FL server ${session} listening on ${serv['address']} (FedAvg, ${rounds} rounds, model ${values.model})`,
  );
  await Promise.all(
    clis.map((c, part) =>
      post(`${c.url}/cli`, {
        source: 'handmnist',
        model: values.model,
        server: String(serv['address']),
        cohsize: String(clients),
        part: String(part),
        session: `${session}-c${part}`,
      }),
    ),
  );
  console.log(`${clients} FL clients started, each on 1/${clients} of the digits`);

  let lastLine = '';
  let s = await status(srv!, session);
  const tTrain = Date.now();
  while (!['completed', 'failed', 'stopped'].includes(s.state)) {
    const line = `  round ${s.round}/${rounds}  clients ${s.clientsConnected}  loss ${fmt(s.loss)}  accuracy ${fmt(s.accuracy)}  [${s.state}]`;
    if (line !== lastLine) {
      console.log(line);
      lastLine = line;
    }
    await new Promise((r) => setTimeout(r, 250));
    s = await status(srv!, session);
  }
  const seconds = (Date.now() - tTrain) / 1000;
  const clientStatus = await Promise.all(clis.map((c, part) => status(c, `${session}-c${part}`)));
  console.log(`\nsession ${session}: ${s.state}${s.errors.length ? ` (${s.errors.at(-1)})` : ''}`);
  console.log('round  loss     accuracy  fit ok/failed  ms');
  for (const r of s.rounds) {
    console.log(
      `${String(r.round).padStart(5)}  ${fmt(r.loss).padEnd(7)}  ${fmt(r.accuracy).padEnd(8)}  ${`${r.fitResults ?? 0}/${r.fitFailures ?? 0}`.padEnd(13)}  ${r.durationMs === undefined ? '–' : Math.round(r.durationMs)}`,
    );
  }
  const flBytes = s.bytes.sent + s.bytes.received;
  console.log(
    `final held-out accuracy ${fmt(s.accuracy)} after ${s.round} rounds in ${seconds.toFixed(1)} s; FL traffic at the server ${(flBytes / 1e6).toFixed(1)} MB`,
  );
  const report = { runId, session, server: s, clients: clientStatus, seconds };
  writeFileSync(join(runDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`report: ${join('runs', runId, 'report.json')}`);
  await teardown(s.state === 'completed' ? 0 : 1);
}

main().catch(async (err: Error) => {
  console.error(`demo failed: ${err.message}`);
  await teardown(1);
});
