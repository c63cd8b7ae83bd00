// Prometheus metrics of one flower-adapter process. Sessions push round results and timings
// here; byte counters, connected clients, interface counters and the TCP info of the client
// sessions' connections to their FL servers are read at scrape time, so a Prometheus scraping a
// node inside a network namespace sees that namespace's traffic. Every metric is listed in
// monitoring/README.md.

import client from 'prom-client';
import { registerNetDevCounters } from '../../common/net-dev.ts';
import { type FlTarget, type LabelledFlow, TcpFlowReader } from './tcp-info.ts';

export type Role = 'server' | 'client';

export interface SessionGaugeSource {
  session: string;
  role: Role;
  state: string;
  bytes: { sent: number; received: number };
  clientsConnected?: number;
}

export interface AdapterMetricsOptions {
  /** the client sessions that have not ended and the FL server each joins: their TCP flows are exported */
  flTargets?: () => FlTarget[];
  /** how long one read of the TCP info serves scrapes (default 1000 ms) */
  tcpInfoTtlMs?: number;
}

/** The series sessions push to. */
interface PushedMetrics {
  round: client.Gauge<'session' | 'role'>;
  accuracy: client.Gauge<'session' | 'role'>;
  loss: client.Gauge<'session' | 'role'>;
  roundsCompleted: client.Counter<'session' | 'role'>;
  participants: client.Gauge<'session'>;
  failures: client.Counter<'session' | 'role' | 'kind'>;
  fitSeconds: client.Histogram<'role'>;
  evaluateSeconds: client.Histogram<'role'>;
  roundSeconds: client.Histogram<'session'>;
}

function pushedMetrics(registers: client.Registry[]): PushedMetrics {
  return {
    round: new client.Gauge({
      name: 'fl_round',
      help: 'Current (last started) FL round of a session',
      labelNames: ['session', 'role'],
      registers,
    }),
    accuracy: new client.Gauge({
      name: 'model_accuracy',
      help: 'Latest model accuracy: the server reports the global model (centralized if it evaluates, else the clients’ weighted average); a client its local evaluation',
      labelNames: ['session', 'role'],
      registers,
    }),
    loss: new client.Gauge({
      name: 'model_loss',
      help: 'Latest model loss, as model_accuracy',
      labelNames: ['session', 'role'],
      registers,
    }),
    roundsCompleted: new client.Counter({
      name: 'fl_rounds_completed_total',
      help: 'Rounds completed (server: aggregated; client: fit instructions answered)',
      labelNames: ['session', 'role'],
      registers,
    }),
    participants: new client.Gauge({
      name: 'fl_round_participants',
      help: 'Clients whose fit result was aggregated in the last round',
      labelNames: ['session'],
      registers,
    }),
    failures: new client.Counter({
      name: 'fl_failures_total',
      help: 'Failures by kind (fit, evaluate, session)',
      labelNames: ['session', 'role', 'kind'],
      registers,
    }),
    fitSeconds: new client.Histogram({
      name: 'fl_fit_duration_seconds',
      help: 'Duration of fit: a whole fit phase on the server, local training on a client',
      labelNames: ['role'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    }),
    evaluateSeconds: new client.Histogram({
      name: 'fl_evaluate_duration_seconds',
      help: 'Duration of evaluate: a whole evaluate phase on the server, local evaluation on a client',
      labelNames: ['role'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    roundSeconds: new client.Histogram({
      name: 'fl_round_duration_seconds',
      help: 'Duration of a whole server round (fit, aggregation, evaluation)',
      labelNames: ['session'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    }),
  };
}

/** The series read at scrape time from the sessions: bytes, connected clients, sessions by state. */
function scrapeTimeMetrics(registers: client.Registry[], sessions: () => SessionGaugeSource[]): void {
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
}

export class AdapterMetrics {
  readonly registry = new client.Registry();
  /** the series sessions push to (rounds, quality, failures, durations) */
  private readonly m: PushedMetrics;

  constructor(nodeId: string, sessions: () => SessionGaugeSource[], opts: AdapterMetricsOptions = {}) {
    this.registry.setDefaultLabels({ node: nodeId });
    client.collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.m = pushedMetrics(registers);
    scrapeTimeMetrics(registers, sessions);
    registerNetDevCounters(registers);

    if (opts.flTargets !== undefined) this.tcpInfoMetrics(opts.flTargets, opts.tcpInfoTtlMs);
  }

  /** Per-flow gauges of the kernel's TCP info for the connections of client sessions to their FL servers. */
  private tcpInfoMetrics(targets: () => FlTarget[], ttlMs = 1000): void {
    const registers = [this.registry];
    const errors = new client.Counter({
      name: 'fl_tcp_info_errors_total',
      help: 'Reads of the TCP info (ss) that failed; the flows of that scrape are missing',
      registers,
    });
    const reader = new TcpFlowReader(targets, { ttlMs, onError: () => errors.inc() });
    const labelNames = ['session', 'server', 'local'];
    const each = async (
      pick: (f: LabelledFlow) => number | undefined,
      put: (l: object, v: number) => void,
    ) => {
      for (const f of await reader.flows()) {
        const v = pick(f);
        if (v !== undefined) put({ session: f.session, server: f.peer, local: f.local }, v);
      }
    };
    // counters mirror the kernel's per-connection counters: reset, then the current value (the
    // kernel leaves a counter out while it is 0)
    const perFlow = (
      kind: 'gauge' | 'counter',
      name: string,
      help: string,
      pick: (f: LabelledFlow) => number | undefined,
    ) =>
      kind === 'gauge'
        ? new client.Gauge({
            name,
            help,
            labelNames,
            registers,
            async collect() {
              this.reset();
              await each(pick, (l, v) => this.set(l, v));
            },
          })
        : new client.Counter({
            name,
            help,
            labelNames,
            registers,
            async collect() {
              this.reset();
              await each(pick, (l, v) => this.inc(l, v));
            },
          });
    perFlow(
      'gauge',
      'fl_tcp_rtt_seconds',
      'Smoothed TCP round-trip time of a connection from this FL client to its FL server (kernel TCP info)',
      (f) => (f.rttMs === undefined ? undefined : f.rttMs / 1000),
    );
    perFlow(
      'gauge',
      'fl_tcp_cwnd_segments',
      'TCP congestion window of a connection from this FL client to its FL server, in segments',
      (f) => f.cwnd,
    );
    perFlow(
      'counter',
      'fl_tcp_bytes_acked_total',
      'Bytes this FL client sent to its FL server and the server acknowledged, per connection',
      (f) => f.bytesAcked ?? 0,
    );
    perFlow(
      'counter',
      'fl_tcp_bytes_received_total',
      'Bytes this FL client received from its FL server, per connection',
      (f) => f.bytesReceived ?? 0,
    );
    perFlow(
      'counter',
      'fl_tcp_retransmits_total',
      'Segments retransmitted on a connection from this FL client to its FL server',
      (f) => f.retransTotal ?? 0,
    );
  }

  roundStarted(session: string, role: Role, round: number): void {
    this.m.round.labels(session, role).set(round);
  }

  roundCompleted(session: string, role: Role, participants?: number, seconds?: number): void {
    this.m.roundsCompleted.labels(session, role).inc();
    if (participants !== undefined) this.m.participants.labels(session).set(participants);
    if (seconds !== undefined) this.m.roundSeconds.labels(session).observe(seconds);
  }

  modelQuality(session: string, role: Role, loss: number | undefined, accuracy: number | undefined): void {
    if (loss !== undefined && Number.isFinite(loss)) this.m.loss.labels(session, role).set(loss);
    if (accuracy !== undefined && Number.isFinite(accuracy))
      this.m.accuracy.labels(session, role).set(accuracy);
  }

  fitDuration(role: Role, seconds: number): void {
    this.m.fitSeconds.labels(role).observe(seconds);
  }

  evaluateDuration(role: Role, seconds: number): void {
    this.m.evaluateSeconds.labels(role).observe(seconds);
  }

  failure(session: string, role: Role, kind: 'fit' | 'evaluate' | 'session', count = 1): void {
    if (count > 0) this.m.failures.labels(session, role, kind).inc(count);
  }

  /** Drops the per-session series of a forgotten session. */
  forget(session: string): void {
    for (const role of ['server', 'client'] as const) {
      this.m.round.remove(session, role);
      this.m.accuracy.remove(session, role);
      this.m.loss.remove(session, role);
      this.m.roundsCompleted.remove(session, role);
    }
    this.m.participants.remove(session);
  }
}
