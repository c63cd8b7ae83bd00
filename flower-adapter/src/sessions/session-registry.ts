// The node's sessions by id, and the rules for starting one:
// - a repeated start with the same session id returns the existing session and starts nothing
//   (for an id the caller named, always; for an id derived from the request, while that session
//   still runs — once it has ended, the same request starts a fresh one, as the seed did);
// - one FL server at a time per node (it owns the FL port): a second one is a conflict;
// - a start that fails leaves nothing behind.

import type { ClientParams, ServerParams } from '../rest/session-params.ts';
import { ValidationError } from '../rest/fields.ts';
import type { FlTarget } from '../tcp-info.ts';
import { isEnded } from '../../../common/ended-states.ts';
import type { FlRuntime, NodeContext, Session } from './session.ts';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface StartResult {
  session: Session;
  created: boolean;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private readonly pending = new Map<string, Promise<Session>>();

  constructor(
    private readonly runtime: FlRuntime,
    private readonly ctx: NodeContext,
  ) {}

  list(): Session[] {
    return [...this.sessions.values()];
  }

  /** The client sessions that have not ended, with the FL server each joins (their TCP flows are exported). */
  flTargets(): FlTarget[] {
    const out: FlTarget[] = [];
    for (const s of this.sessions.values()) {
      if (s.role !== 'client') continue;
      const st = s.status();
      if (st.server !== undefined && !isEnded(st.state)) out.push({ session: s.id, server: st.server });
    }
    return out;
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  async startServer(p: ServerParams): Promise<StartResult> {
    return this.start(
      p.session,
      p.sessionGiven,
      () => {
        const problems = this.runtime.precheckServer(p, this.ctx);
        if (problems.length > 0)
          throw new ValidationError(problems.map(([field, message]) => ({ field, message })));
        const running = this.list().find((s) => s.role === 'server' && !hasEnded(s) && s.id !== p.session);
        const starting = [...this.pending.keys()].some((k) => k !== p.session && k.startsWith('server:'));
        if (running || starting) {
          throw new HttpError(
            409,
            `an FL server session (${running?.id ?? 'starting'}) already owns port ${this.ctx.flPort} on this node; stop it with DELETE /sessions/<id> or POST /reset first`,
          );
        }
        return this.runtime.startServer(p, this.ctx);
      },
      'server',
    );
  }

  async startClient(p: ClientParams): Promise<StartResult> {
    return this.start(
      p.session,
      p.sessionGiven,
      () => {
        const problems = this.runtime.precheckClient(p, this.ctx);
        if (problems.length > 0)
          throw new ValidationError(problems.map(([field, message]) => ({ field, message })));
        return this.runtime.startClient(p, this.ctx);
      },
      'client',
    );
  }

  private async start(
    id: string,
    idGiven: boolean,
    create: () => Promise<Session>,
    role: 'server' | 'client',
  ): Promise<StartResult> {
    const existing = this.sessions.get(id);
    if (existing) {
      if (existing.role !== role) {
        throw new HttpError(
          409,
          `session ${id} exists already as an FL ${existing.role}; choose another session id`,
        );
      }
      if (idGiven || !hasEnded(existing)) return { session: existing, created: false };
    }
    const inFlight = this.pending.get(`${role}:${id}`);
    if (inFlight) return { session: await inFlight, created: false };
    const promise = create();
    this.pending.set(`${role}:${id}`, promise);
    try {
      const session = await promise;
      if (existing) this.ctx.metrics.forget(id);
      this.sessions.set(id, session);
      return { session, created: true };
    } finally {
      this.pending.delete(`${role}:${id}`);
    }
  }

  async stop(id: string): Promise<Session> {
    const s = this.sessions.get(id);
    if (!s) throw new HttpError(404, `no session ${JSON.stringify(id)} on this node`);
    await s.stop('stopped by DELETE /sessions');
    return s;
  }

  /** Stops every session and forgets them all (the seed's reset). */
  async reset(): Promise<number> {
    const all = this.list();
    await Promise.all(all.map((s) => s.stop('stopped by POST /reset')));
    for (const s of all) {
      this.sessions.delete(s.id);
      this.ctx.metrics.forget(s.id);
    }
    return all.length;
  }
}

function hasEnded(s: Session): boolean {
  return isEnded(s.status().state);
}
