// What an experiment run reports (runs/<id>/report.json): written by run-experiment.ts, drawn by
// chart.ts, read by the demo and its test.

import type { BackendName } from '../backend.ts';

export interface CohortResult {
  cohort: number;
  intent: string;
  id: string;
  state: string;
  error?: string;
  clients: number;
  rounds: number;
  numRounds: number;
  finalAccuracy?: number;
  finalLoss?: number;
  /** accepted → training (s) */
  intentToTrainingS?: number;
  /** accepted → completed (s) */
  totalS?: number;
  server?: string;
  /** FL bytes sent + received at the FL server */
  flBytes?: number;
  history: { round: number; loss?: number; accuracy?: number; durationMs?: number }[];
}

export interface ExperimentReport {
  runId: string;
  backend: BackendName;
  topology: { name: string; hosts: number; switches: number; links: number };
  netem: boolean;
  linksWithoutDelay: string[];
  catalog: string;
  cohortConfig: string;
  startedAt: string;
  seconds: { network: number; programs: number; training: number; total: number };
  cohorts: CohortResult[];
  ok: boolean;
}
