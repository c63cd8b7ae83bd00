// Prometheus metrics of one MLFO (prom-client, its own registry so tests can run several MLFOs in
// one process). Names: mlfo_intents_total{role,outcome}, mlfo_stage_seconds{role,stage},
// mlfo_intent_to_training_seconds{role}, mlfo_queue_jobs{state}, mlfo_active_sessions{role,kind},
// mlfo_momo_calls_total{role,direction,outcome}, mlfo_intent_round / mlfo_intent_accuracy {intent,cohort},
// mlfo_intents{role,state} (intents now in each state), and the host's interface counters
// node_network_{receive,transmit}_{bytes,packets}_total{device} (as the flower-adapter exports them).
// Every metric is listed in monitoring/README.md.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type NetDevCounters, readNetDev, registerNetDevCounters } from '../../common/net-dev.ts';
import { INTENT_STATES } from './intent-store.ts';

export type IntentOutcome = 'received' | 'accepted' | 'rejected' | 'completed' | 'failed' | 'stopped';
export type Stage = 'server-ready' | 'clients-started' | 'first-round';

export class MlfoMetrics {
  readonly registry = new Registry();
  readonly intents: Counter<'role' | 'outcome'>;
  readonly stageSeconds: Histogram<'role' | 'stage'>;
  readonly toTraining: Histogram<'role'>;
  readonly queueJobs: Gauge<'state'>;
  readonly activeSessions: Gauge<'role' | 'kind'>;
  readonly momoCalls: Counter<'role' | 'direction' | 'outcome'>;
  readonly intentRound: Gauge<'intent' | 'cohort'>;
  readonly intentAccuracy: Gauge<'intent' | 'cohort'>;
  readonly intentsByState: Gauge<'role' | 'state'>;

  constructor(
    readonly role: string,
    queueCounts?: () => Promise<Record<string, number>>,
    sessionCounts?: () => Promise<{ servers: number; clients: number }>,
    /** the state of every intent this MLFO keeps */
    intentStates?: () => Promise<string[]>,
    netDev: () => NetDevCounters[] = readNetDev,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.intents = new Counter({
      name: 'mlfo_intents_total',
      help: 'Intents by outcome: received, accepted, rejected (bad input), completed, failed, stopped',
      labelNames: ['role', 'outcome'],
      registers,
    });
    const buckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
    this.stageSeconds = new Histogram({
      name: 'mlfo_stage_seconds',
      help: 'Seconds from acceptance of an intent to each stage (server-ready, clients-started, first-round)',
      labelNames: ['role', 'stage'],
      buckets,
      registers,
    });
    this.toTraining = new Histogram({
      name: 'mlfo_intent_to_training_seconds',
      help: 'Seconds from acceptance of an intent until its FL session is training',
      labelNames: ['role'],
      buckets,
      registers,
    });
    this.queueJobs = new Gauge({
      name: 'mlfo_queue_jobs',
      help: 'Orchestration jobs by BullMQ state',
      labelNames: ['state'],
      registers,
      async collect() {
        if (queueCounts === undefined) return;
        try {
          for (const [state, n] of Object.entries(await queueCounts())) this.set({ state }, n);
        } catch {
          // Redis unreachable: keep the last values rather than fail the scrape
        }
      },
    });
    this.activeSessions = new Gauge({
      name: 'mlfo_active_sessions',
      help: 'FL sessions this MLFO has started that have not ended, by kind (server, client)',
      labelNames: ['role', 'kind'],
      registers,
      collect: async () => {
        if (sessionCounts === undefined) return;
        try {
          const c = await sessionCounts();
          this.activeSessions.set({ role, kind: 'server' }, c.servers);
          this.activeSessions.set({ role, kind: 'client' }, c.clients);
        } catch {}
      },
    });
    this.momoCalls = new Counter({
      name: 'mlfo_momo_calls_total',
      help: 'MoMo Deploy calls, sent (out) or served (in), by outcome (ok or the gRPC status name)',
      labelNames: ['role', 'direction', 'outcome'],
      registers,
    });
    this.intentRound = new Gauge({
      name: 'mlfo_intent_round',
      help: 'Current FL round of each intent',
      labelNames: ['intent', 'cohort'],
      registers,
    });
    this.intentAccuracy = new Gauge({
      name: 'mlfo_intent_accuracy',
      help: 'Latest model accuracy of each intent',
      labelNames: ['intent', 'cohort'],
      registers,
    });
    this.intentsByState = new Gauge({
      name: 'mlfo_intents',
      help: 'Intents this MLFO keeps, by current state (accepted … training, completed, failed, stopped)',
      labelNames: ['role', 'state'],
      registers,
      collect: async () => {
        if (intentStates === undefined) return;
        try {
          const states = await intentStates();
          // every known state, so a state that empties shows 0 rather than its last count
          for (const state of INTENT_STATES) this.intentsByState.set({ role, state }, 0);
          for (const state of states) this.intentsByState.inc({ role, state });
        } catch {
          // Redis unreachable: keep the last values rather than fail the scrape
        }
      },
    });
    registerNetDevCounters(registers, { read: netDev });
  }

  count(outcome: IntentOutcome): void {
    this.intents.inc({ role: this.role, outcome });
  }

  stage(stage: Stage, acceptedAt: string | undefined): void {
    if (acceptedAt === undefined) return;
    const s = (Date.now() - Date.parse(acceptedAt)) / 1000;
    this.stageSeconds.observe({ role: this.role, stage }, s);
    if (stage === 'first-round') this.toTraining.observe({ role: this.role }, s);
  }
}
