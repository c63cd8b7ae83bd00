// FedMedian (flwr/server/strategy/fedmedian.py): the global model is the coordinate-wise median
// of the clients' updates; num_examples play no part. No settings of its own.

import type { WeightedUpdate } from './aggregate.ts';
import { coordinateMedian } from './aggregate-robust.ts';
import { type Combined, FedAvg } from './fedavg.ts';

export class FedMedian extends FedAvg {
  override readonly name: string = 'FedMedian';

  protected override async combine(_round: number, updates: WeightedUpdate[]): Promise<Combined<undefined>> {
    return { arrays: coordinateMedian(updates) };
  }
}
