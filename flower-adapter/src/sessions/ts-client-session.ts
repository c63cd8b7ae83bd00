// An FL client session of the TypeScript runtime: loads its partition of the dataset (train and
// test splits, typed arrays only), builds the model, then joins the FL server over Flower's gRPC
// protocol and answers its instructions until the server sends it away.

import type { ClientParams } from '../rest/session-params.ts';
import { runFlowerClient, type ClientEvent } from '../runtime/grpc-client.ts';
import type { ByteCounters } from '../runtime/types.ts';
import { loadPartition } from '../ml/datasets/registry.ts';
import { initTf } from '../ml/tf.ts';
import { TfClient } from '../ml/tf-client.ts';
import type { SessionGaugeSource } from '../metrics.ts';
import { BaseSession, type Session, type SessionStatus } from './session.ts';

export class TsClientSession extends BaseSession<ClientParams> implements Session {
  readonly role = 'client' as const;
  private bytes: ByteCounters = { sent: 0, received: 0 };
  private examples = 0;
  private tfClient?: TfClient;

  /**
   * Accepts the session and returns at once: loading the partition and building the model go on
   * in the background (state `starting`), so an orchestrator starting 50 clients is not held up
   * by 50 data loads. What can be checked up front (the dataset's files) was, by the runtime.
   */
  async start(): Promise<void> {
    void this.run();
  }

  private async prepare(): Promise<TfClient> {
    const p = this.params;
    await initTf();
    const opts = { dataDir: this.ctx.dataDir, part: p.part, cohsize: p.cohsize, seed: p.seed };
    const train = await loadPartition(p.source, { ...opts, split: 'train' });
    const test = await loadPartition(p.source, { ...opts, split: 'test' });
    this.examples = train.count;
    this.ctx.log(
      `client session ${this.id}: part ${p.part}/${p.cohsize} of ${p.source} (${train.count} train, ${test.count} test), joining ${p.server}`,
    );
    return new TfClient(p.model, train, test, { seed: p.seed });
  }

  private async run(): Promise<void> {
    const p = this.params;
    try {
      this.tfClient = await this.prepare();
      if (this.abort.signal.aborted) throw new Error('stopped before it joined its server');
      this.book.set('waiting');
      const result = await runFlowerClient({
        server: p.server,
        client: this.tfClient,
        signal: this.abort.signal,
        connectTimeoutMs: p.connecttimeout * 1000,
        onEvent: (e) => this.onEvent(e),
        bytesOut: this.bytes,
      });
      this.bytes = { ...result.bytes };
      this.book.set(result.reason === 'aborted' ? 'stopped' : 'completed');
      this.ctx.log(`client session ${this.id}: ${this.book.state} after ${result.rounds} fit rounds`);
    } catch (err) {
      this.book.error((err as Error).message);
      this.ctx.metrics.failure(this.id, 'client', 'session');
      this.book.set('failed');
      this.ctx.log(`client session ${this.id}: failed: ${(err as Error).message}`);
    } finally {
      this.tfClient?.dispose();
      this.tfClient = undefined;
      this.markEnded();
    }
  }

  private onEvent(e: ClientEvent): void {
    const b = this.book;
    const m = this.ctx.metrics;
    switch (e.type) {
      case 'connected':
        b.set('running');
        break;
      case 'fit-done': {
        b.round += 1;
        m.roundStarted(this.id, 'client', b.round);
        m.roundCompleted(this.id, 'client');
        m.fitDuration('client', e.ms / 1000);
        const loss = typeof e.metrics['loss'] === 'number' ? e.metrics['loss'] : undefined;
        const accuracy = typeof e.metrics['accuracy'] === 'number' ? e.metrics['accuracy'] : undefined;
        b.rounds.push({ round: b.round, loss, accuracy, durationMs: e.ms });
        b.touch();
        break;
      }
      case 'evaluate-done': {
        const accuracy = typeof e.metrics['accuracy'] === 'number' ? e.metrics['accuracy'] : undefined;
        b.loss = e.loss;
        b.accuracy = accuracy;
        m.evaluateDuration('client', e.ms / 1000);
        m.modelQuality(this.id, 'client', e.loss, accuracy);
        b.touch();
        break;
      }
      default:
        break;
    }
  }

  async stop(reason = 'stopped on request'): Promise<void> {
    this.requestStop(reason);
    await this.ended;
  }

  status(): SessionStatus {
    return {
      ...this.baseStatus('client', this.bytes),
      server: this.params.server,
      examples: this.examples,
    };
  }

  gauges(): SessionGaugeSource {
    return { session: this.id, role: 'client', state: this.book.state, bytes: this.bytes };
  }
}
