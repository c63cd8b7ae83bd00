// The cloud MLFO's MoMo Deploy handler: a derived intent from an edge MLFO (ours or a seed
// generation's) → the FL server placement → "ip:6000". Failures reach the edge as gRPC codes it
// can act on: INVALID_ARGUMENT for an intent no retry can fix, UNAVAILABLE for one worth a retry.

import * as grpc from '@grpc/grpc-js';
import { intentFromMomo } from '../momo/intent-momo.ts';
import type { MlfoMetrics } from '../metrics.ts';
import { MomoError, type MomoIntent } from '../momo/momo.ts';
import { PlacementError, type ServerPlacement } from './server-placement.ts';

export function momoDeployHandler(deps: {
  placement: ServerPlacement;
  metrics: MlfoMetrics;
  log: (msg: string) => void;
}): (m: MomoIntent, peer: string) => Promise<string> {
  const { placement, metrics, log } = deps;
  const count = (outcome: string) => metrics.momoCalls.inc({ role: metrics.role, direction: 'in', outcome });
  return async (m, peer) => {
    try {
      const { intent } = intentFromMomo(m, `MoMo Deploy from ${peer}`);
      const { address } = await placement.deploy(intent);
      count('ok');
      return address;
    } catch (err) {
      const code = grpcCodeOf(err);
      count(grpc.status[code] ?? String(code));
      log(`MoMo Deploy ${m.intentID} from ${peer}: ${grpc.status[code]}: ${(err as Error).message}`);
      throw new MomoError(code, (err as Error).message);
    }
  };
}

function grpcCodeOf(err: unknown): grpc.status {
  if (err instanceof PlacementError) {
    return err.kind === 'invalid' ? grpc.status.INVALID_ARGUMENT : grpc.status.UNAVAILABLE;
  }
  return (err as Error).name === 'IntentError' ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL;
}
