// Readiness of node programs: a probe (HTTP GET answering 2xx, a TCP connect, or a Redis PING over
// a unix socket) checked once (`probeOnce`, for health) or polled until it answers
// (`waitReady`), which fails at once when the process exits or the start is aborted, and with
// the last answer when the timeout passes.

import { connect } from 'node:net';

export type Probe =
  | { kind: 'http'; url: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'redis'; socket: string };

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** What a probe waits for, in words ("http://10.0.0.1:8000/healthz to answer 2xx"). */
export function describeProbe(p: Probe): string {
  switch (p.kind) {
    case 'http':
      return `${p.url} to answer 2xx`;
    case 'tcp':
      return `a TCP connection to ${p.host}:${p.port}`;
    case 'redis':
      return `Redis to answer PING on ${p.socket}`;
  }
}

export async function probeOnce(p: Probe, timeoutMs = 2000): Promise<ProbeResult> {
  try {
    switch (p.kind) {
      case 'http': {
        const r = await fetch(p.url, { signal: AbortSignal.timeout(timeoutMs) });
        await r.body?.cancel();
        return { ok: r.ok, detail: `HTTP ${r.status} from ${p.url}` };
      }
      case 'tcp':
        await talk({ host: p.host, port: p.port }, undefined, timeoutMs);
        return { ok: true, detail: `TCP ${p.host}:${p.port} accepts connections` };
      case 'redis': {
        const answer = await talk({ path: p.socket }, 'PING\r\n', timeoutMs);
        const ok = answer.startsWith('+PONG');
        return { ok, detail: `Redis on ${p.socket} answered ${JSON.stringify(answer.trim())}` };
      }
    }
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}

/** Connects; with `request`, sends it and resolves with the first chunk of the answer. */
function talk(
  where: { host: string; port: number } | { path: string },
  request: string | undefined,
  timeoutMs: number,
): Promise<string> {
  const name = 'path' in where ? where.path : `${where.host}:${where.port}`;
  return new Promise((resolve, reject) => {
    const s = connect(where);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`${name}: no ${request ? 'answer' : 'connection'} within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err: Error | undefined, answer = '') => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(new Error(`${name}: ${err.message}`));
      else resolve(answer);
    };
    s.once('error', (e) => done(e));
    s.once('connect', () => {
      if (request === undefined) done(undefined);
      else s.write(request);
    });
    s.once('data', (d) => done(undefined, d.toString('utf8')));
    s.once('end', () => done(new Error('closed without an answer')));
  });
}

export type NotReadyReason = 'timeout' | 'exited' | 'aborted';

export class NotReadyError extends Error {
  override name = 'NotReadyError';
  constructor(
    readonly reason: NotReadyReason,
    message: string,
  ) {
    super(message);
  }
}

export interface WaitOptions {
  timeoutMs: number;
  /** resolves when the process ends: waiting stops at once */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal?: AbortSignal;
  intervalMs?: number;
}

/** Polls the probe until it answers; rejects with NotReadyError (timeout, exited, aborted). */
export async function waitReady(p: Probe, opts: WaitOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 200;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void opts.exited.then((e) => {
    exit = e;
  });
  const stopped = new Promise<void>((resolve) => {
    void opts.exited.then(() => resolve());
    opts.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  let last = 'not probed yet';
  for (;;) {
    if (opts.signal?.aborted)
      throw new NotReadyError('aborted', `aborted while waiting for ${describeProbe(p)}`);
    if (exit) {
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
      throw new NotReadyError('exited', `${how} before ${describeProbe(p)}`);
    }
    const r = await probeOnce(p, Math.min(2000, Math.max(200, deadline - Date.now())));
    if (r.ok) return;
    last = r.detail;
    if (Date.now() >= deadline) {
      throw new NotReadyError(
        'timeout',
        `waited ${Math.round(opts.timeoutMs / 1000)} s for ${describeProbe(p)}; last: ${last}`,
      );
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      stopped,
      new Promise<void>((r) => {
        timer = setTimeout(r, Math.min(interval, Math.max(0, deadline - Date.now())));
      }),
    ]);
    clearTimeout(timer);
  }
}
