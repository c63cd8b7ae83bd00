// What the adapter's REST layer knows of an FL session, whichever runtime runs it: a status
// snapshot, a way to stop it, and a promise that settles when it has ended. The TypeScript
// runtime (ts-runtime.ts) is one implementation; a runtime that spawns Python Flower would be
// another behind the same interface.

import type { AdapterMetrics, SessionGaugeSource } from '../metrics.ts';
import type { ClientParams, ServerParams } from '../rest/session-params.ts';
import type {
  RoundSummary,
  SessionState,
  SessionStatus as SessionStatusOf,
} from '../../../common/adapter-api.ts';
import { isEnded } from '../../../common/ended-states.ts';

/** The adapter's session status: the REST shape with its params typed. */
export type SessionStatus = SessionStatusOf<ServerParams | ClientParams>;

export interface Session {
  readonly id: string;
  readonly role: 'server' | 'client';
  status(): SessionStatus;
  gauges(): SessionGaugeSource;
  /** Stops the session if it still runs; safe to call twice. */
  stop(reason?: string): Promise<void>;
  /** Settles when the session has ended, whichever way. */
  readonly ended: Promise<void>;
}

export interface NodeContext {
  nodeId: string;
  /** address the FL server binds to */
  host: string;
  /** address clients are told to reach the FL server at */
  advertiseHost: string;
  flPort: number;
  dataDir: string;
  metrics: AdapterMetrics;
  log: (msg: string) => void;
}

export interface FlRuntime {
  readonly name: string;
  /** Problems that make a start impossible (e.g. a dataset missing), as [field, message]; none when it can start. */
  precheckServer(p: ServerParams, ctx: NodeContext): Array<[string, string]>;
  precheckClient(p: ClientParams, ctx: NodeContext): Array<[string, string]>;
  /** Resolves once the server listens. */
  startServer(p: ServerParams, ctx: NodeContext): Promise<Session>;
  /** Resolves once the session is accepted; the client loads its data and connects in the background. */
  startClient(p: ClientParams, ctx: NodeContext): Promise<Session>;
}

export class SessionStatusBook {
  readonly createdAt = new Date().toISOString();
  updatedAt = this.createdAt;
  endedAt?: string;
  state: SessionState = 'starting';
  round = 0;
  loss?: number;
  accuracy?: number;
  errors: string[] = [];
  rounds: RoundSummary[] = [];

  touch(): void {
    this.updatedAt = new Date().toISOString();
  }

  set(state: SessionState): void {
    if (isEnded(this.state)) return;
    this.state = state;
    this.touch();
    if (isEnded(state)) this.endedAt = this.updatedAt;
  }

  error(message: string): void {
    // bounded: a flapping peer must not grow the status without limit
    if (this.errors.length >= 50) this.errors.shift();
    this.errors.push(`${new Date().toISOString()} ${message}`);
    this.touch();
  }

  get ended(): boolean {
    return isEnded(this.state);
  }
}

/** What every session has: its id, its status book, and the `ended` promise its run settles. */
export abstract class BaseSession<P extends ServerParams | ClientParams> {
  readonly id: string;
  protected readonly book = new SessionStatusBook();
  protected readonly abort = new AbortController();
  private endedResolve!: () => void;
  readonly ended = new Promise<void>((r) => {
    this.endedResolve = r;
  });

  constructor(
    readonly params: P,
    protected readonly ctx: NodeContext,
  ) {
    this.id = params.session;
  }

  /** The status fields every session kind shares; each kind adds its own. */
  protected baseStatus(role: 'server' | 'client', bytes: { sent: number; received: number }): SessionStatus {
    const b = this.book;
    return {
      session: this.id,
      role,
      runtime: 'typescript',
      state: b.state,
      createdAt: b.createdAt,
      updatedAt: b.updatedAt,
      endedAt: b.endedAt,
      round: b.round,
      loss: b.loss,
      accuracy: b.accuracy,
      bytes: { ...bytes },
      errors: [...b.errors],
      rounds: b.rounds.map((r) => ({ ...r })),
      params: this.params,
    };
  }

  protected markEnded(): void {
    this.endedResolve();
  }

  /** Records the stop and signals the run; the caller then waits for `ended`. */
  protected requestStop(reason: string): void {
    if (!this.book.ended) {
      this.book.error(reason);
      this.book.set('stopped');
    }
    this.abort.abort();
  }
}
