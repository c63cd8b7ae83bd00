// The flower-adapter's REST API (the seed's contract on :5000, extended): routes parse and
// validate, call the session registry, and map errors to HTTP in one place.

import express, { type NextFunction, type Request, type Response } from 'express';
import type { AdapterMetrics } from '../metrics.ts';
import { HttpError, type SessionRegistry } from '../sessions/session-registry.ts';
import { ValidationError } from './fields.ts';
import { parseClientParams, parseServerParams } from './session-params.ts';

export interface AppDeps {
  registry: SessionRegistry;
  metrics: AdapterMetrics;
  nodeId: string;
  startedAt: Date;
}

export function createApp(deps: AppDeps): express.Express {
  const { registry, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.use(express.urlencoded({ extended: false, limit: '64kb' }));
  app.use(express.json({ limit: '64kb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true, node: deps.nodeId, uptimeSeconds: (Date.now() - deps.startedAt.getTime()) / 1000 });
  });

  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  app.post('/serv', async (req, res) => {
    const params = parseServerParams(bodyOf(req));
    const { session, created } = await registry.startServer(params);
    const st = session.status();
    res
      .status(created ? 201 : 200)
      .json({ session: session.id, address: st.address, state: st.state, created });
  });

  app.post('/cli', async (req, res) => {
    const params = parseClientParams(bodyOf(req));
    const { session, created } = await registry.startClient(params);
    const st = session.status();
    res
      .status(created ? 201 : 200)
      .json({ session: session.id, server: st.server, state: st.state, created });
  });

  app.get('/status', (_req, res) => {
    res.json({ node: deps.nodeId, sessions: registry.list().map((s) => s.status()) });
  });

  app.get('/sessions/:id', (req, res) => {
    const s = registry.get(req.params.id);
    if (!s) throw new HttpError(404, `no session ${JSON.stringify(req.params.id)} on this node`);
    res.json(s.status());
  });

  app.delete('/sessions/:id', async (req, res) => {
    const s = await registry.stop(req.params.id);
    res.json(s.status());
  });

  app.post('/reset', async (_req, res) => {
    const stopped = await registry.reset();
    res.json({ stopped });
  });

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(
      new HttpError(
        404,
        `no route ${req.method} ${req.path}; routes: POST /serv, POST /cli, GET /status, GET /sessions/:id, DELETE /sessions/:id, POST /reset, GET /healthz, GET /metrics`,
      ),
    );
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof ValidationError) {
      res.status(400).json({ error: err.message, problems: err.problems });
      return;
    }
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: err.message });
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed' || e.type === 'entity.too.large') {
      res.status(e.status ?? 400).json({ error: `request body: ${e.message}` });
      return;
    }
    if (typeof e.message === 'string' && /EADDRINUSE/.test(e.message)) {
      res.status(409).json({ error: `FL port is in use by another program on this node: ${e.message}` });
      return;
    }
    res.status(500).json({ error: e.message ?? String(err) });
  });
  return app;
}

function bodyOf(req: Request): Record<string, unknown> {
  const b: unknown = req.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) {
    throw new ValidationError([{ field: '(body)', message: 'expected form fields or a JSON object' }]);
  }
  return b as Record<string, unknown>;
}
