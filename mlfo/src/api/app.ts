// The intent REST API (express): routes parse and check the request, call one use case, and one
// error middleware maps errors to HTTP. POST /receive takes the seed's multipart form (field
// `file` plus text fields) or a raw YAML body (Content-Type application/yaml) and answers 202 once
// the intent is durably queued. Mutating routes need "Authorization: Bearer <MLFO_API_TOKEN>" when
// a token is configured.

import { timingSafeEqual } from 'node:crypto';
import Busboy from 'busboy';
import express, { type NextFunction, type Request, type Response } from 'express';
import { IntentError } from '../../../common/intent/parse-intent.ts';
import type { IntentRecord, IntentStore } from '../intent-store.ts';
import { NodeSelectionError } from '../inventory.ts';
import type { MlfoMetrics } from '../metrics.ts';
import type { Orchestrator } from '../orchestration/orchestrator.ts';
import type { ServerPlacement } from '../orchestration/server-placement.ts';
import { ConflictError, type SubmitDeps, submitIntent } from './submit-intent.ts';

export const MAX_INTENT_BYTES = 1024 * 1024;
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];
const MAX_FIELDS = 32;

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiDeps {
  role: string;
  store: IntentStore;
  metrics: MlfoMetrics;
  apiToken?: string;
  /** edge and standalone: intake and orchestration */
  submit?: SubmitDeps;
  orchestrator?: Orchestrator;
  /** cloud and standalone: FL servers placed here */
  placement?: ServerPlacement;
  log: (msg: string) => void;
}

interface Upload {
  yaml: string;
  fileName?: string;
  form: Record<string, string>;
}

function readMultipart(req: Request): Promise<Upload> {
  return new Promise((resolve, reject) => {
    let bb: ReturnType<typeof Busboy>;
    try {
      bb = Busboy({
        headers: req.headers,
        limits: {
          fileSize: MAX_INTENT_BYTES,
          files: 1,
          fields: MAX_FIELDS,
          fieldSize: 1024,
          parts: MAX_FIELDS + 1,
        },
      });
    } catch (err) {
      reject(new HttpError(400, `multipart body: ${(err as Error).message}`));
      return;
    }
    const form: Record<string, string> = {};
    const chunks: Buffer[] = [];
    let fileName: string | undefined;
    let sawFile = false;
    let failed: HttpError | undefined;
    bb.on('file', (name, stream, info) => {
      if (name !== 'file') {
        failed ??= new HttpError(
          400,
          `multipart field ${JSON.stringify(name)} is a file; allowed: the intent YAML in field "file"`,
        );
        stream.resume();
        return;
      }
      sawFile = true;
      fileName = info.filename;
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => {
        failed ??= new HttpError(
          413,
          `field file: the intent is larger than ${MAX_INTENT_BYTES} bytes; allowed: at most ${MAX_INTENT_BYTES} bytes`,
        );
      });
    });
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) failed ??= new HttpError(413, `form field ${name}: longer than 1024 bytes`);
      if (name === 'file') {
        // curl -F file=<intent.yaml (no @) sends the YAML as a text field; accept it too
        sawFile = true;
        chunks.push(Buffer.from(value, 'utf8'));
      } else form[name] = value;
    });
    bb.on('fieldsLimit', () => {
      failed ??= new HttpError(413, `more than ${MAX_FIELDS} form fields`);
    });
    bb.on('error', (err: Error) => reject(new HttpError(400, `multipart body: ${err.message}`)));
    bb.on('close', () => {
      if (failed) return reject(failed);
      if (!sawFile) {
        return reject(
          new HttpError(
            400,
            'multipart body has no field "file"; expected the intent YAML in field file, e.g. curl -F file=@intent.yaml',
          ),
        );
      }
      const up: Upload = { yaml: Buffer.concat(chunks).toString('utf8'), form };
      if (fileName !== undefined && fileName !== '') up.fileName = fileName;
      resolve(up);
    });
    req.pipe(bb);
  });
}

async function readRaw(req: Request): Promise<Upload> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_INTENT_BYTES) {
      req.resume();
      throw new HttpError(
        413,
        `the intent is larger than ${MAX_INTENT_BYTES} bytes; allowed: at most ${MAX_INTENT_BYTES} bytes`,
      );
    }
    chunks.push(c);
  }
  const form: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query)) if (typeof v === 'string') form[k] = v;
  return { yaml: Buffer.concat(chunks).toString('utf8'), form };
}

/** The other intents on the same FL server session as rec (sameserv yes), from this MLFO's records. */
function serverSharers(rec: IntentRecord, all: IntentRecord[]): string[] {
  const srv = rec.server;
  if (srv?.session === undefined) return [];
  return all
    .filter((r) => r.id !== rec.id && r.server?.address === srv.address && r.server.session === srv.session)
    .map((r) => r.id);
}

function view(rec: IntentRecord, all: IntentRecord[]) {
  const { yaml: _yaml, derived: _derived, ...rest } = rec;
  if (rest.server !== undefined) rest.server = { ...rest.server, sharedWith: serverSharers(rec, all) };
  const timings: Record<string, number> = {};
  const t0 = Date.parse(rec.stages.accepted ?? rec.updatedAt);
  for (const [stage, at] of Object.entries(rec.stages)) timings[stage] = (Date.parse(at) - t0) / 1000;
  return { ...rest, stageSeconds: timings, links: { self: `/intents/${encodeURIComponent(rec.id)}` } };
}

/** POST /receive: the upload → submitIntent → 202 (accepted), 200 (the same upload already active). */
function receive(deps: ApiDeps, submit: SubmitDeps) {
  return async (req: Request, res: Response) => {
    deps.metrics.count('received');
    try {
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      let upload: Upload;
      if (type === 'multipart/form-data') upload = await readMultipart(req);
      else if (YAML_TYPES.includes(type)) upload = await readRaw(req);
      else {
        req.resume();
        throw new HttpError(
          415,
          `Content-Type ${JSON.stringify(type)} is not accepted; allowed: multipart/form-data (field file = the intent YAML) or ${YAML_TYPES.join(', ')}`,
        );
      }
      const { record, warnings, repeated } = await submitIntent(submit, upload);
      if (repeated) {
        deps.log(`intent ${record.id} uploaded again for the same cohort: answered as it is`);
      } else {
        deps.metrics.count('accepted');
        deps.log(`intent ${record.id} accepted (${record.intentID}, ${record.pipeline.operand})`);
      }
      const self = `/intents/${encodeURIComponent(record.id)}`;
      res
        .status(repeated ? 200 : 202)
        .location(self)
        .json({
          id: record.id,
          intentID: record.intentID,
          state: record.state,
          ...(repeated ? { repeated: true } : {}),
          ...(record.sharesServerWith ? { sharesServerWith: record.sharesServerWith } : {}),
          warnings,
          links: { self },
        });
    } catch (err) {
      const status = statusOf(err);
      if (status >= 400 && status < 500) deps.metrics.count('rejected');
      throw err;
    }
  };
}

export function createApi(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');

  const auth = (req: Request, _res: Response, next: NextFunction) => {
    if (deps.apiToken === undefined) return next();
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(deps.apiToken);
    if (a.length === b.length && timingSafeEqual(a, b)) return next();
    next(
      new HttpError(401, `${req.method} ${req.path} needs "Authorization: Bearer <token>" (MLFO_API_TOKEN)`),
    );
  };

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true, role: deps.role });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  if (deps.submit !== undefined) app.post('/receive', auth, receive(deps, deps.submit));

  app.get('/intents', async (_req, res) => {
    const all = await deps.store.list();
    res.json({ intents: all.map((r) => view(r, all)) });
  });

  app.get('/intents/:id', async (req, res) => {
    const rec = await deps.store.get(req.params.id as string);
    if (rec === undefined)
      throw new HttpError(404, `no intent ${JSON.stringify(req.params.id)}; see GET /intents`);
    res.json(view(rec, rec.server?.session === undefined ? [] : await deps.store.list()));
  });

  app.delete('/intents/:id', auth, async (req, res) => {
    if (deps.orchestrator === undefined) throw new HttpError(404, `this ${deps.role} MLFO runs no intents`);
    const rec = await deps.orchestrator.stop(req.params.id as string);
    if (rec === undefined)
      throw new HttpError(404, `no intent ${JSON.stringify(req.params.id)}; see GET /intents`);
    res.json(view(rec, await deps.store.list()));
  });

  app.post('/cloudreset', auth, async (_req, res) => {
    if (deps.placement === undefined) {
      res.json({ stopped: [], note: `this ${deps.role} MLFO places no FL servers` });
      return;
    }
    res.json(await deps.placement.reset());
  });

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(
      new HttpError(
        404,
        `no route ${req.method} ${req.path}; routes: ${deps.submit ? 'POST /receive, ' : ''}GET /intents, GET /intents/:id, DELETE /intents/:id, POST /cloudreset, GET /healthz, GET /metrics`,
      ),
    );
  });

  app.use(errorHandler(deps));
  return app;
}

/** The one place errors become HTTP: status from the error's kind, problems listed for intent errors. */
function errorHandler(deps: ApiDeps) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = statusOf(err);
    const e = err as Error;
    if (err instanceof IntentError) {
      res.status(status).json({ error: e.message, problems: err.problems });
      return;
    }
    if (status >= 500) deps.log(`API error: ${e.stack ?? e.message}`);
    res.status(status).json({ error: e.message ?? String(err) });
  };
}

function statusOf(err: unknown): number {
  if (err instanceof IntentError || err instanceof HttpError) return err.status;
  if (err instanceof NodeSelectionError || err instanceof ConflictError) return err.status;
  const s = (err as { status?: unknown }).status;
  return typeof s === 'number' && s >= 400 && s < 600 ? s : 500;
}
