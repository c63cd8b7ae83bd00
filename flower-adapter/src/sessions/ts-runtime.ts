// The TypeScript FL runtime: sessions run in this process, over our own Flower-compatible gRPC
// server and client, training with TensorFlow.js.

import { checkDataset } from '../ml/datasets/registry.ts';
import type { ClientParams, ServerParams } from '../rest/session-params.ts';
import type { FlRuntime, NodeContext, Session } from './session.ts';
import { TsClientSession } from './ts-client-session.ts';
import { TsServerSession } from './ts-server-session.ts';

export class TsRuntime implements FlRuntime {
  readonly name = 'typescript';

  precheckServer(p: ServerParams, ctx: NodeContext): Array<[string, string]> {
    if (p.source === undefined) return [];
    const c = checkDataset(p.source, ctx.dataDir);
    return c.ok ? [] : [['source', c.message]];
  }

  precheckClient(p: ClientParams, ctx: NodeContext): Array<[string, string]> {
    const c = checkDataset(p.source, ctx.dataDir);
    return c.ok ? [] : [['source', c.message]];
  }

  async startServer(p: ServerParams, ctx: NodeContext): Promise<Session> {
    const s = new TsServerSession(p, ctx);
    await s.start();
    return s;
  }

  async startClient(p: ClientParams, ctx: NodeContext): Promise<Session> {
    const s = new TsClientSession(p, ctx);
    await s.start();
    return s;
  }
}
