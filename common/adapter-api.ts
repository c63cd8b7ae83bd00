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
  /** server, strategies that discard (Krum, Bulyan): the clients (peer addresses) whose updates were used */
  fitKept?: string[];
  /** … and those discarded this round */
  fitDiscarded?: string[];
  /** what the strategy cut, where it cuts values rather than clients (trimmed mean) */
  fitSelection?: string;
}

/** The strategy a server session runs, as its status reports it. */
export interface StrategyStatus {
  /** the `algo` name, e.g. "krum" */
  algo: string;
  /** the strategy's name, e.g. "Krum" or "DifferentialPrivacyServerSideFixedClipping(FedAvg)" */
  name: string;
  /** its own settings in Flower's names, defaults filled in */
  params: Record<string, number>;
  /** server-side central DP with fixed clipping, when on */
  centralDp?: {
    clippingNorm: number;
    noiseMultiplier: number;
    numSampledClients: number;
    /** std of the Gaussian noise added to every coordinate: noise_multiplier·clipping_norm/num_sampled_clients */
    noiseStdDev: number;
  };
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
  /** server: the strategy and its settings */
  strategy?: StrategyStatus;
  rounds: RoundSummary[];
  params: Params;
}
