// Southbound client of the flower-adapters (REST :5000), form-encoded as the seed's MLFO sent it.
// Every call has a timeout. Failures are classified for the orchestration's retry policy:
// transient (connection refused or reset, timeout, 5xx: retry with backoff), invalid (400: the
// request itself is wrong, never retried) and conflict (409: e.g. the node's FL port is taken).
// The status shapes it returns are the adapter's own (common/adapter-api.ts).

import type { SessionStatus } from '../../common/adapter-api.ts';

export type AdapterFailure = 'transient' | 'invalid' | 'conflict' | 'not-found';

export class AdapterError extends Error {
  override name = 'AdapterError';
  constructor(
    readonly kind: AdapterFailure,
    readonly node: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface StartAnswer {
  session: string;
  state: string;
  created: boolean;
  address?: string;
  server?: string;
}

export class AdapterClient {
  constructor(private readonly timeoutMs: number) {}

  private async call<T>(
    node: string,
    baseUrl: string,
    method: string,
    path: string,
    form?: Record<string, string | number | undefined>,
  ): Promise<T> {
    const url = `${baseUrl}${path}`;
    const what = `flower-adapter ${node} (${method} ${url})`;
    let res: Response;
    try {
      const init: RequestInit = { method, signal: AbortSignal.timeout(this.timeoutMs) };
      if (form !== undefined) {
        const body = new URLSearchParams();
        for (const [k, v] of Object.entries(form)) if (v !== undefined) body.set(k, String(v));
        init.body = body;
      }
      res = await fetch(url, init);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const reason =
        e.name === 'TimeoutError'
          ? `no answer within ${this.timeoutMs} ms`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new AdapterError('transient', node, `${what}: unreachable: ${reason}`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      body = { error: text.slice(0, 300) };
    }
    if (res.ok) return body as T;
    const msg = (body as { error?: string }).error ?? text.slice(0, 300);
    const kind: AdapterFailure =
      res.status === 400
        ? 'invalid'
        : res.status === 409
          ? 'conflict'
          : res.status === 404
            ? 'not-found'
            : 'transient';
    throw new AdapterError(kind, node, `${what}: HTTP ${res.status}: ${msg}`, res.status);
  }

  startServer(node: string, baseUrl: string, fields: Record<string, string | number | undefined>) {
    return this.call<StartAnswer>(node, baseUrl, 'POST', '/serv', fields);
  }

  startClient(node: string, baseUrl: string, fields: Record<string, string | number | undefined>) {
    return this.call<StartAnswer>(node, baseUrl, 'POST', '/cli', fields);
  }

  session(node: string, baseUrl: string, id: string) {
    return this.call<SessionStatus>(node, baseUrl, 'GET', `/sessions/${encodeURIComponent(id)}`);
  }

  status(node: string, baseUrl: string) {
    return this.call<{ node: string; sessions: SessionStatus[] }>(node, baseUrl, 'GET', '/status');
  }

  /** Stops a session; a session the node does not know counts as stopped. */
  async stop(node: string, baseUrl: string, id: string): Promise<void> {
    try {
      await this.call(node, baseUrl, 'DELETE', `/sessions/${encodeURIComponent(id)}`);
    } catch (err) {
      if (!(err instanceof AdapterError && err.kind === 'not-found')) throw err;
    }
  }
}
