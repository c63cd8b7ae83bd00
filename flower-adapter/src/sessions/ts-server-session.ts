// An FL server session of the TypeScript runtime: a Flower-compatible gRPC server on the node's
// FL port, a strategy built by name from the request (runtime/strategy/registry.ts), and the
// round loop, run in the background. When the server knows `model` (and `source`), it starts
// from the model's own initial weights and evaluates every global model on the held-out test split.

import type { StrategyStatus } from '../../../common/adapter-api.ts';
import { STRATEGY_SEED_SPELLING } from '../../../common/strategies.ts';
import type { ServerParams } from '../rest/session-params.ts';
import { startFlowerGrpcServer, type FlowerGrpcServer } from '../runtime/grpc-server.ts';
import { arraysToParameters } from '../runtime/npy.ts';
import { runFlServer, type ServerEvent } from '../runtime/server.ts';
import { noiseStdDev } from '../runtime/strategy/dp-server-fixed-clipping.ts';
import { createStrategy } from '../runtime/strategy/registry.ts';
import type { AnyStrategy } from '../runtime/strategy/strategy.ts';
import type { NDArray, Parameters } from '../runtime/types.ts';
import { loadPartition, datasetInfo } from '../ml/datasets/registry.ts';
import { createModel, getWeights } from '../ml/models.ts';
import { initTf } from '../ml/tf.ts';
import { createCentralEvaluator } from '../ml/tf-client.ts';
import type { SessionGaugeSource } from '../metrics.ts';
import { BaseSession, type Session, type SessionStatus } from './session.ts';

type CentralEvaluator = (
  arrays: NDArray[],
) => Promise<{ loss: number; accuracy: number; numExamples: number }>;

export class TsServerSession extends BaseSession<ServerParams> implements Session {
  readonly role = 'server' as const;
  private grpc?: FlowerGrpcServer;
  private strategyName?: string;

  async start(): Promise<void> {
    const p = this.params;
    let initialParameters: Parameters | undefined;
    let central: CentralEvaluator | undefined;
    if (p.model !== undefined) {
      await initTf();
      const info = p.source !== undefined ? datasetInfo(p.source) : datasetInfo('handmnist');
      const model = createModel(p.model, info.inputShape, info.numClasses, 0);
      initialParameters = arraysToParameters(getWeights(model));
      model.dispose();
      if (p.source !== undefined) {
        const test = await loadPartition(p.source, {
          dataDir: this.ctx.dataDir,
          part: 0,
          cohsize: 1,
          seed: 0,
          split: 'test',
        });
        central = createCentralEvaluator(p.model, test);
      }
    }
    const strategy = createStrategy(p.algo, {
      fractionFit: p.fracfit,
      fractionEvaluate: p.fraceval,
      minFitClients: p.minfit,
      minEvaluateClients: p.minevalclients,
      minAvailableClients: p.minav,
      acceptFailures: p.acceptfailures,
      initialParameters,
      onFitConfig: (round: number) => ({
        server_round: round,
        epochs: p.epochs,
        batch_size: p.batchsize,
        ...(p.lr !== undefined ? { lr: p.lr } : {}),
      }),
      onEvaluateConfig: (round: number) => ({ server_round: round }),
      evaluateFn:
        central === undefined
          ? undefined
          : async (_round: number, arrays: NDArray[]) => {
              const r = await central(arrays);
              return { loss: r.loss, metrics: { accuracy: r.accuracy } };
            },
      own: p.strategyParams,
      ...(p.centralDp !== undefined ? { centralDp: p.centralDp } : {}),
    });
    this.strategyName = strategy.name;
    this.grpc = await startFlowerGrpcServer({ host: this.ctx.host, port: this.ctx.flPort });
    this.book.set('waiting');
    this.ctx.log(`server session ${this.id}: listening on ${this.address}, waiting for ${p.minav} clients`);
    void this.run(strategy);
  }

  get address(): string {
    return `${this.ctx.advertiseHost}:${this.grpc?.port ?? this.ctx.flPort}`;
  }

  private async run(strategy: AnyStrategy): Promise<void> {
    const p = this.params;
    const m = this.ctx.metrics;
    try {
      const history = await runFlServer({
        clientManager: this.grpc!.clientManager,
        strategy,
        numRounds: p.numround,
        roundTimeoutMs: p.roundtimeout * 1000,
        waitForClientsTimeoutMs: p.waittimeout * 1000,
        signal: this.abort.signal,
        onEvent: (e) => this.onEvent(e),
      });
      if (history.status === 'completed') this.book.set('completed');
      else if (history.status === 'aborted') this.book.set('stopped');
      else {
        this.book.error(history.reason ?? 'failed');
        m.failure(this.id, 'server', 'session');
        this.book.set('failed');
      }
      this.ctx.log(
        `server session ${this.id}: ${this.book.state}${history.reason ? ` (${history.reason})` : ''}`,
      );
    } catch (err) {
      this.book.error(`server loop crashed: ${(err as Error).message}`);
      m.failure(this.id, 'server', 'session');
      this.book.set('failed');
      this.ctx.log(`server session ${this.id}: failed: ${(err as Error).stack ?? err}`);
    } finally {
      // Flower stops its gRPC server with a 1 s grace after the last round
      await this.grpc?.stop(1000).catch(() => {});
      this.markEnded();
    }
  }

  private onEvent(e: ServerEvent): void {
    const m = this.ctx.metrics;
    const b = this.book;
    switch (e.type) {
      case 'round-start':
        b.round = e.round;
        if (b.state === 'waiting') b.set('running');
        b.touch();
        m.roundStarted(this.id, 'server', e.round);
        break;
      case 'fit-done':
        m.fitDuration('server', e.ms / 1000);
        m.failure(this.id, 'server', 'fit', e.failures);
        b.rounds.push({ round: e.round, fitResults: e.results, fitFailures: e.failures });
        b.touch();
        break;
      case 'evaluate-done': {
        const accuracy = typeof e.metrics['accuracy'] === 'number' ? e.metrics['accuracy'] : undefined;
        // prefer the held-out evaluation; clients' reports fill in where there is none
        const current = b.rounds.find((r) => r.round === e.round);
        if (e.central || current?.evaluatedOn !== 'central') {
          b.loss = e.loss;
          b.accuracy = accuracy;
          if (current) {
            current.loss = e.loss;
            current.accuracy = accuracy;
            current.evaluatedOn = e.central ? 'central' : 'clients';
          }
          m.modelQuality(this.id, 'server', e.loss, accuracy);
        }
        if (!e.central && e.ms !== undefined) m.evaluateDuration('server', e.ms / 1000);
        b.touch();
        break;
      }
      case 'round-end': {
        const current = b.rounds.find((r) => r.round === e.round);
        if (current) {
          current.durationMs = e.ms;
          current.skipped = e.skipped;
          if (e.record.fitKept !== undefined) current.fitKept = [...e.record.fitKept];
          if (e.record.fitDiscarded !== undefined) current.fitDiscarded = [...e.record.fitDiscarded];
          if (e.record.fitSelection !== undefined) current.fitSelection = e.record.fitSelection;
        }
        m.roundCompleted(this.id, 'server', current?.fitResults, e.ms / 1000);
        b.touch();
        break;
      }
      default:
        break;
    }
  }

  async stop(reason = 'stopped on request'): Promise<void> {
    this.requestStop(reason);
    await this.grpc?.stop(0).catch(() => {});
    await this.ended;
  }

  status(): SessionStatus {
    return {
      ...this.baseStatus('server', this.grpc?.bytes ?? { sent: 0, received: 0 }),
      numRounds: this.params.numround,
      strategy: this.strategyStatus(),
      address: this.address,
      clientsConnected: this.grpc && !this.book.ended ? this.grpc.clientManager.numAvailable() : 0,
    };
  }

  private strategyStatus(): StrategyStatus {
    const p = this.params;
    const dp = p.centralDp;
    return {
      algo: p.algo,
      name: this.strategyName ?? STRATEGY_SEED_SPELLING[p.algo],
      params: { ...p.strategyParams },
      ...(dp !== undefined ? { centralDp: { ...dp, noiseStdDev: noiseStdDev(dp) } } : {}),
    };
  }

  gauges(): SessionGaugeSource {
    return {
      session: this.id,
      role: 'server',
      state: this.book.state,
      bytes: this.grpc?.bytes ?? { sent: 0, received: 0 },
      clientsConnected: this.grpc && !this.book.ended ? this.grpc.clientManager.numAvailable() : 0,
    };
  }
}
