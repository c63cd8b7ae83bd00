// Prometheus metrics of one flower-adapter process. Sessions push round results and timings
// here; byte counters, connected clients and interface counters are read at scrape time, so a
// Prometheus scraping a node inside a network namespace sees that namespace's traffic.

import client from 'prom-client';
import { readNetDev } from './net-dev.ts';

export type Role = 'server' | 'client';

export interface SessionGaugeSource {
  session: string;
  role: Role;
  state: string;
  bytes: { sent: number; received: number };
  clientsConnected?: number;
}

export class AdapterMetrics {
  readonly registry = new client.Registry();
  private readonly round: client.Gauge<'session' | 'role'>;
  private readonly accuracy: client.Gauge<'session' | 'role'>;
  private readonly loss: client.Gauge<'session' | 'role'>;
  private readonly roundsCompleted: client.Counter<'session' | 'role'>;
  private readonly participants: client.Gauge<'session'>;
  private readonly failures: client.Counter<'session' | 'role' | 'kind'>;
  private readonly fitSeconds: client.Histogram<'role'>;
  private readonly evaluateSeconds: client.Histogram<'role'>;
  private readonly roundSeconds: client.Histogram<'session'>;

  constructor(nodeId: string, sessions: () => SessionGaugeSource[]) {
    this.registry.setDefaultLabels({ node: nodeId });
    client.collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.round = new client.Gauge({
      name: 'fl_round',
      help: 'Current (last started) FL round of a session',
      labelNames: ['session', 'role'],
      registers,
    });
    this.accuracy = new client.Gauge({
      name: 'model_accuracy',
      help: 'Latest model accuracy: the server reports the global model (centralized if it evaluates, else the clients’ weighted average); a client its local evaluation',
      labelNames: ['session', 'role'],
      registers,
    });
    this.loss = new client.Gauge({
      name: 'model_loss',
      help: 'Latest model loss, as model_accuracy',
      labelNames: ['session', 'role'],
      registers,
    });
    this.roundsCompleted = new client.Counter({
      name: 'fl_rounds_completed_total',
      help: 'Rounds completed (server: aggregated; client: fit instructions answered)',
      labelNames: ['session', 'role'],
      registers,
    });
    this.participants = new client.Gauge({
      name: 'fl_round_participants',
      help: 'Clients whose fit result was aggregated in the last round',
      labelNames: ['session'],
      registers,
    });
    this.failures = new client.Counter({
      name: 'fl_failures_total',
      help: 'Failures by kind (fit, evaluate, session)',
      labelNames: ['session', 'role', 'kind'],
      registers,
    });
    this.fitSeconds = new client.Histogram({
      name: 'fl_fit_duration_seconds',
      help: 'Duration of fit: a whole fit phase on the server, local training on a client',
      labelNames: ['role'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.evaluateSeconds = new client.Histogram({
      name: 'fl_evaluate_duration_seconds',
      help: 'Duration of evaluate: a whole evaluate phase on the server, local evaluation on a client',
      labelNames: ['role'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.roundSeconds = new client.Histogram({
      name: 'fl_round_duration_seconds',
      help: 'Duration of a whole server round (fit, aggregation, evaluation)',
      labelNames: ['session'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });

    new client.Counter({
      name: 'fl_bytes_sent_total',
      help: 'Bytes this node sent on FL gRPC streams (protobuf payload and gRPC message framing)',
      labelNames: ['session', 'role'],
      registers,
      collect() {
        this.reset();
        for (const s of sessions()) this.labels(s.session, s.role).inc(s.bytes.sent);
      },
    });
    new client.Counter({
      name: 'fl_bytes_received_total',
      help: 'Bytes this node received on FL gRPC streams (protobuf payload and gRPC message framing)',
      labelNames: ['session', 'role'],
      registers,
      collect() {
        this.reset();
        for (const s of sessions()) this.labels(s.session, s.role).inc(s.bytes.received);
      },
    });
    new client.Gauge({
      name: 'fl_clients_connected',
      help: 'Clients connected to an FL server session',
      labelNames: ['session'],
      registers,
      collect() {
        this.reset();
        for (const s of sessions()) {
          if (s.role === 'server') this.labels(s.session).set(s.clientsConnected ?? 0);
        }
      },
    });
    new client.Gauge({
      name: 'fl_sessions',
      help: 'Sessions on this node by role and state',
      labelNames: ['role', 'state'],
      registers,
      collect() {
        this.reset();
        for (const s of sessions()) this.labels(s.role, s.state).inc();
      },
    });

    const netCounter = (
      name: string,
      help: string,
      pick: (d: ReturnType<typeof readNetDev>[number]) => number,
    ) =>
      new client.Counter({
        name,
        help,
        labelNames: ['device'],
        registers,
        collect() {
          this.reset();
          for (const d of readNetDev()) this.labels(d.device).inc(pick(d));
        },
      });
    netCounter(
      'node_network_receive_bytes_total',
      'Bytes received per interface (/proc/net/dev)',
      (d) => d.rxBytes,
    );
    netCounter(
      'node_network_transmit_bytes_total',
      'Bytes sent per interface (/proc/net/dev)',
      (d) => d.txBytes,
    );
    netCounter(
      'node_network_receive_packets_total',
      'Packets received per interface (/proc/net/dev)',
      (d) => d.rxPackets,
    );
    netCounter(
      'node_network_transmit_packets_total',
      'Packets sent per interface (/proc/net/dev)',
      (d) => d.txPackets,
    );
  }

  roundStarted(session: string, role: Role, round: number): void {
    this.round.labels(session, role).set(round);
  }

  roundCompleted(session: string, role: Role, participants?: number, seconds?: number): void {
    this.roundsCompleted.labels(session, role).inc();
    if (participants !== undefined) this.participants.labels(session).set(participants);
    if (seconds !== undefined) this.roundSeconds.labels(session).observe(seconds);
  }

  modelQuality(session: string, role: Role, loss: number | undefined, accuracy: number | undefined): void {
    if (loss !== undefined && Number.isFinite(loss)) this.loss.labels(session, role).set(loss);
    if (accuracy !== undefined && Number.isFinite(accuracy))
      this.accuracy.labels(session, role).set(accuracy);
  }

  fitDuration(role: Role, seconds: number): void {
    this.fitSeconds.labels(role).observe(seconds);
  }

  evaluateDuration(role: Role, seconds: number): void {
    this.evaluateSeconds.labels(role).observe(seconds);
  }

  failure(session: string, role: Role, kind: 'fit' | 'evaluate' | 'session', count = 1): void {
    if (count > 0) this.failures.labels(session, role, kind).inc(count);
  }

  /** Drops the per-session series of a forgotten session. */
  forget(session: string): void {
    for (const role of ['server', 'client'] as const) {
      this.round.remove(session, role);
      this.accuracy.remove(session, role);
      this.loss.remove(session, role);
      this.roundsCompleted.remove(session, role);
    }
    this.participants.remove(session);
  }
}
