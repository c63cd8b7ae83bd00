// The sendintent CLI: the seed's sendintent.py with a cohort config in YAML. It checks the whole
// config first (loadCohortConfig: lengths, values, intent files) and sends nothing when any of it
// is wrong; then posts one multipart intent per cohort to the MLFO's /receive exactly as the seed
// did (planCohortPosts: ipstart from 10, advancing by cohort size; timegap seconds between posts),
// prints every cohort's outcome (accepted, the same upload already active, sharing an FL server)
// as a table and each rejection with the MLFO's status and message.
// --follow then polls GET /intents/:id for every accepted cohort and shows its progress (redrawn in
// place on a terminal, one line per change otherwise) until all have ended, then a summary.
// Exit codes: 0 all accepted (and, with --follow, all completed); 1 a rejection, a failed or stopped
// intent, or an MLFO that stopped answering; 2 a bad command line or cohort config.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CohortConfigError,
  FIRST_IPSTART,
  loadCohortConfig,
  planCohortPosts,
} from '../../common/intent/cohort-config.ts';
import { isEnded } from '../../common/ended-states.ts';

export const USAGE = `usage: sendintent --config intents/cohorts/<name>.yaml [--mlfo URL] [--follow] [--token T]
  --config       cohort config (mlfoadd, cohortdistr, intentdist, *dist lists, timegap)
  --mlfo         the MLFO to post to, e.g. http://127.0.0.1:8001 (overrides the config's mlfoadd)
  --follow       show each cohort's progress until all have ended, then a summary
  --token        bearer token for POST /receive (default: env MLFO_API_TOKEN)
  --interval-ms  how often --follow polls the MLFO (default 1000)
  --give-up-s    --follow stops when the MLFO has not answered for this long (default 120)`;

const BAR_WIDTH = 20;

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** true when stdout is a terminal: --follow redraws in place */
  tty: boolean;
  env: NodeJS.ProcessEnv;
}

const defaultIo = (): Io => ({
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  tty: process.stdout.isTTY === true,
  env: process.env,
});

class UsageError extends Error {}

interface Options {
  config: string;
  mlfo?: string;
  follow: boolean;
  token?: string;
  intervalMs: number;
  giveUpMs: number;
}

function readOptions(argv: string[], env: NodeJS.ProcessEnv): Options | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        mlfo: { type: 'string' },
        follow: { type: 'boolean', short: 'f' },
        token: { type: 'string' },
        'interval-ms': { type: 'string' },
        'give-up-s': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values['help'] === true) return 'help';
  const config = values['config'];
  if (typeof config !== 'string' || config === '') {
    throw new UsageError('--config: missing; give a cohort config such as intents/cohorts/small.yaml');
  }
  const num = (flag: string, dflt: number, min: number, max: number): number => {
    const v = values[flag];
    if (v === undefined) return dflt;
    const n = Number(v);
    if (typeof v !== 'string' || !/^\d+$/.test(v) || n < min || n > max) {
      throw new UsageError(`--${flag}: got ${JSON.stringify(v)}; allowed: an integer in [${min}, ${max}]`);
    }
    return n;
  };
  const opts: Options = {
    config,
    follow: values['follow'] === true,
    intervalMs: num('interval-ms', 1000, 50, 600_000),
    giveUpMs: num('give-up-s', 120, 1, 86_400) * 1000,
  };
  if (typeof values['mlfo'] === 'string') opts.mlfo = values['mlfo'];
  const token = typeof values['token'] === 'string' ? values['token'] : env['MLFO_API_TOKEN'];
  if (token !== undefined && token !== '') opts.token = token;
  return opts;
}

/** The MLFO's base URL from mlfoadd (the seed wrote …/receive) or --mlfo (with or without /receive). */
export function mlfoBase(url: string, what: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${what}: got ${JSON.stringify(url)}; allowed: an http:// or https:// URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new UsageError(`${what}: got ${JSON.stringify(url)}; allowed: an http:// or https:// URL`);
  }
  const path = u.pathname.replace(/\/+$/, '').replace(/\/receive$/, '');
  return `${u.origin}${path}`;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

interface Posted {
  cohort: number;
  intentFile: string;
  clients: string;
  /** the deployment's id, e.g. edgeintent01.2 */
  id?: string;
  state?: string;
  /** how the cohort gets its FL server, as far as the MLFO could say at acceptance */
  server?: string;
  rejected?: string;
}

type PostAnswer =
  | { ok: true; id: string; state: string; repeated: boolean; sharesServerWith: string[] }
  | { ok: false; message: string };

interface IntentStatus {
  state: string;
  round?: number;
  numRounds?: number;
  accuracy?: number;
  loss?: number;
  error?: string;
  rounds?: unknown[];
  stageSeconds?: Record<string, number>;
}

async function post(
  base: string,
  intentFile: string,
  fields: Record<string, string>,
  token: string | undefined,
): Promise<PostAnswer> {
  const form = new FormData();
  form.set('file', new Blob([readFileSync(intentFile)], { type: 'application/yaml' }), basename(intentFile));
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  let res: Response;
  try {
    res = await fetch(`${base}/receive`, {
      method: 'POST',
      body: form,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return {
      ok: false,
      message: `MLFO ${base}/receive unreachable: ${e.cause?.code ?? e.cause?.message ?? e.message}`,
    };
  }
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // the seed's MLFO answered a bare "OK"
  }
  if (res.status === 202 || res.status === 200) {
    const id = body['id'] ?? body['intentID'];
    const shares = Array.isArray(body['sharesServerWith']) ? body['sharesServerWith'].map(String) : [];
    const repeated = body['repeated'] === true;
    if (typeof id === 'string') {
      return { ok: true, id, state: String(body['state'] ?? 'accepted'), repeated, sharesServerWith: shares };
    }
    const state = text.trim().slice(0, 40) || 'accepted';
    return { ok: true, id: '(not given)', state, repeated, sharesServerWith: shares };
  }
  const msg = typeof body['error'] === 'string' ? body['error'] : text.trim().slice(0, 2000);
  return { ok: false, message: `HTTP ${res.status}: ${msg}` };
}

async function getStatus(base: string, id: string): Promise<IntentStatus | { missing: string }> {
  const res = await fetch(`${base}/intents/${encodeURIComponent(id)}`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status === 404) return { missing: `the MLFO does not know intent ${id} (HTTP 404)` };
  if (!res.ok) throw new Error(`GET /intents/${id}: HTTP ${res.status}`);
  return (await res.json()) as IntentStatus;
}

export function progressBar(done: number, total: number, width = BAR_WIDTH): string {
  const f = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const n = Math.round(f * width);
  return `[${'#'.repeat(n)}${'-'.repeat(width - n)}]`;
}

const fmt = (x: number | undefined, digits = 3): string => (x === undefined ? '–' : x.toFixed(digits));

function progressLine(p: Posted, s: IntentStatus | undefined, idWidth: number): string {
  const id = (p.id ?? '').padEnd(idWidth);
  if (s === undefined) return `cohort ${p.cohort}  ${id}  ${progressBar(0, 1)}  waiting for the first status`;
  const total = s.numRounds ?? 0;
  const round = s.state === 'completed' ? total : (s.round ?? 0);
  const tail = s.error ? `  ${s.error.split('\n')[0]}` : '';
  return `cohort ${p.cohort}  ${id}  ${progressBar(round, total)}  round ${round}/${total}  loss ${fmt(s.loss)}  acc ${fmt(s.accuracy)}  ${s.state}${tail}`;
}

async function follow(
  base: string,
  accepted: Posted[],
  opts: Options,
  io: Io,
): Promise<Map<Posted, IntentStatus>> {
  const last = new Map<Posted, IntentStatus>();
  const printed = new Map<Posted, string>();
  const idWidth = Math.max(...accepted.map((p) => (p.id ?? '').length));
  let lastAnswer = Date.now();
  let drawn = 0;
  let note = '';
  for (;;) {
    await Promise.all(
      accepted.map(async (p) => {
        if (isEnded(last.get(p)?.state)) return;
        try {
          const s = await getStatus(base, p.id!);
          lastAnswer = Date.now();
          last.set(p, 'missing' in s ? { state: 'unknown', error: s.missing } : s);
        } catch (err) {
          note = `MLFO ${base}: ${(err as Error).message}; retrying`;
        }
      }),
    );
    const done = accepted.every((p) => isEnded(last.get(p)?.state) || last.get(p)?.state === 'unknown');
    const lines = accepted.map((p) => progressLine(p, last.get(p), idWidth));
    const gaveUp = Date.now() - lastAnswer > opts.giveUpMs;
    if (io.tty) {
      const footer = gaveUp || done ? '' : note;
      const frame = [...lines, footer];
      io.out(`${drawn > 0 ? `\x1b[${drawn}A` : ''}${frame.map((l) => `\x1b[2K${l}`).join('\n')}\n`);
      drawn = frame.length;
    } else {
      accepted.forEach((p, i) => {
        const l = lines[i]!;
        // one line per change of state, round or accuracy
        if (printed.get(p) !== l && last.has(p)) {
          io.out(`${l}\n`);
          printed.set(p, l);
        }
      });
    }
    note = '';
    if (done) return last;
    if (gaveUp) {
      io.err(
        `sendintent: the MLFO at ${base} has not answered for ${opts.giveUpMs / 1000} s; giving up following\n`,
      );
      return last;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  let opts: Options | 'help';
  try {
    opts = readOptions(argv, io.env);
  } catch (err) {
    io.err(`sendintent: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (opts === 'help') {
    io.out(`${USAGE}\n`);
    return 0;
  }
  let base: string;
  let cfg: ReturnType<typeof loadCohortConfig>;
  try {
    cfg = loadCohortConfig(opts.config);
    base = opts.mlfo !== undefined ? mlfoBase(opts.mlfo, '--mlfo') : mlfoBase(cfg.mlfoadd, 'mlfoadd');
  } catch (err) {
    if (err instanceof CohortConfigError || err instanceof UsageError) {
      io.err(`sendintent: ${err.message}\nnothing was sent.\n`);
      return 2;
    }
    throw err;
  }
  for (const w of cfg.warnings) io.err(`sendintent: warning: ${w}\n`);

  const plan = planCohortPosts(cfg);
  io.out(`posting ${plan.length} intent${plan.length === 1 ? '' : 's'} to ${base}/receive\n`);
  const posted: Posted[] = [];
  let ipstart = FIRST_IPSTART;
  for (const [i, p] of plan.entries()) {
    if (i > 0 && cfg.timegapSeconds > 0) await new Promise((r) => setTimeout(r, cfg.timegapSeconds * 1000));
    const size = cfg.cohorts[i]!.size;
    const entry: Posted = {
      cohort: i,
      intentFile: cfg.cohorts[i]!.intentPath,
      clients: size === 1 ? `${ipstart} (1)` : `${ipstart}–${ipstart + size - 1} (${size})`,
    };
    ipstart += size;
    const r = await post(base, p.intentFile, p.fields, opts.token);
    if (r.ok) {
      entry.id = r.id;
      entry.state = r.repeated ? `${r.state} (already active: nothing started)` : r.state;
      entry.server =
        r.sharesServerWith.length > 0
          ? `shared with ${r.sharesServerWith.join(', ')}`
          : p.fields['sameserver']?.toLowerCase() === 'yes'
            ? 'own, shareable'
            : 'own';
    } else {
      entry.rejected = r.message;
      io.err(`sendintent: cohort ${i} (${entry.intentFile}) rejected: ${r.message}\n`);
    }
    posted.push(entry);
  }
  const accepted = posted.filter((p) => p.rejected === undefined);
  const rejected = posted.length - accepted.length;
  io.out(
    table(
      ['cohort', 'intent file', 'id', 'clients', 'state', 'FL server'],
      posted.map((p) => [
        String(p.cohort),
        p.intentFile,
        p.id ?? '–',
        p.clients,
        p.state ?? 'rejected (reason above)',
        p.server ?? '–',
      ]),
    ),
  );
  io.out(
    `${accepted.length} accepted, ${rejected} rejected${accepted.length > 0 ? `; status: ${base}/intents/<id>` : ''}\n`,
  );
  if (!opts.follow || accepted.length === 0) return rejected > 0 ? 1 : 0;

  const final = await follow(base, accepted, opts, io);
  const rows = accepted.map((p) => {
    const s = final.get(p);
    const total =
      s?.stageSeconds?.['completed'] ?? s?.stageSeconds?.['failed'] ?? s?.stageSeconds?.['stopped'];
    return [
      String(p.cohort),
      p.id!,
      s?.state ?? 'unknown',
      `${s?.rounds?.length ?? 0}/${s?.numRounds ?? '?'}`,
      fmt(s?.accuracy),
      fmt(s?.loss),
      total === undefined ? '–' : total.toFixed(1),
      s?.error?.split('\n')[0] ?? '',
    ];
  });
  io.out(
    `\nsummary\n${table(['cohort', 'id', 'state', 'rounds', 'accuracy', 'loss', 'seconds', 'error'], rows)}`,
  );
  const completed = rows.filter((r) => r[2] === 'completed').length;
  io.out(`${completed} of ${accepted.length} completed${rejected > 0 ? `; ${rejected} rejected` : ''}\n`);
  return rejected === 0 && completed === accepted.length ? 0 : 1;
}
