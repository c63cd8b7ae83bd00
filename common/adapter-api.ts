// The flower-adapter's REST status shapes (GET /sessions/<id>, GET /status): the adapter builds
// them (flower-adapter/src/sessions/), the MLFO reads them (mlfo/src/adapter-client.ts).

import type { EndedState } from './ended-states.ts';

export type SessionState =
  | 'starting'
  | 'waiting' // server: listening, waiting for clients; client: connecting to its server
  | 'running'
  | EndedState;

export interface RoundSummary {
  round: number;
  loss?: number;
  accuracy?: number;
  /** where loss/accuracy come from: the server's held-out test split, or the clients' reports */
  evaluatedOn?: 'central' | 'clients';
  fitResults?: number;
  fitFailures?: number;
  durationMs?: number;
  skipped?: boolean;
}

/** One session's status; `Params` is the adapter's typed form of the parameters it was started with. */
export interface SessionStatus<Params = Record<string, unknown>> {
  session: string;
  role: 'server' | 'client';
  runtime: string;
  state: SessionState;
  createdAt: string;
  updatedAt: string;
  endedAt?: string;
  round: number;
  numRounds?: number;
  loss?: number;
  accuracy?: number;
  bytes: { sent: number; received: number };
  errors: string[];
  /** server: "ip:port" it listens on; client: the server it joins */
  address?: string;
  server?: string;
  clientsConnected?: number;
  examples?: number;
  rounds: RoundSummary[];
  params: Params;
}
