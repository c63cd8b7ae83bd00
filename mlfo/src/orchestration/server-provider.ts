// Where an edge-side flow gets its FL server from: the cloud MLFO over MoMo (role edge), or the
// placement in this process (role standalone). Both answer "ip:6000" and classify failures as
// transient (retry with backoff) or invalid (the intent fails at once).

import * as grpc from '@grpc/grpc-js';
import type { Intent } from '../../../common/intent/intent-schema.ts';
import { intentToMomo } from '../momo/intent-momo.ts';
import type { MlfoMetrics } from '../metrics.ts';
import { MomoError, momoDeploy } from '../momo/momo.ts';
import { PlacementError, type ServerPlacement, serverSessionId } from './server-placement.ts';

export interface ProvidedServer {
  address: string;
  /** the server's session id on its node, when known */
  session?: string;
  node?: string;
  /** false when the server is shared (sameserv yes) and must outlive this intent */
  owned: boolean;
}

export class ServerUnavailable extends Error {
  override name = 'ServerUnavailable';
  constructor(
    message: string,
    readonly invalid: boolean,
  ) {
    super(message);
  }
}

export interface ServerProvider {
  deploy(derived: Intent): Promise<ProvidedServer>;
}

export class LocalServerProvider implements ServerProvider {
  constructor(private readonly placement: ServerPlacement) {}

  async deploy(derived: Intent): Promise<ProvidedServer> {
    try {
      const { address, placement } = await this.placement.deploy(derived);
      return { address, session: placement.session, node: placement.node, owned: !placement.reused };
    } catch (err) {
      if (err instanceof PlacementError) throw new ServerUnavailable(err.message, err.kind === 'invalid');
      throw err;
    }
  }
}

const INVALID_CODES = [
  grpc.status.INVALID_ARGUMENT,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.NOT_FOUND,
  grpc.status.UNIMPLEMENTED,
  grpc.status.PERMISSION_DENIED,
];

export class MomoServerProvider implements ServerProvider {
  constructor(
    private readonly parent: string,
    private readonly metrics: MlfoMetrics,
    private readonly deadlineMs = 120_000,
  ) {}

  async deploy(derived: Intent): Promise<ProvidedServer> {
    try {
      const address = await momoDeploy(this.parent, intentToMomo(derived), this.deadlineMs);
      this.metrics.momoCalls.inc({ role: this.metrics.role, direction: 'out', outcome: 'ok' });
      if (!/^[^\s:]+:\d+$/.test(address)) {
        throw new ServerUnavailable(
          `MoMo Deploy to ${this.parent} answered ${JSON.stringify(address)}; expected the FL server's ip:port`,
          true,
        );
      }
      const shared = derived.targets[0]?.constraints.sameserv === 'yes';
      return shared
        ? { address, owned: false }
        : { address, session: serverSessionId(derived.intentID), owned: true };
    } catch (err) {
      if (err instanceof MomoError) {
        this.metrics.momoCalls.inc({
          role: this.metrics.role,
          direction: 'out',
          outcome: grpc.status[err.code] ?? String(err.code),
        });
        throw new ServerUnavailable(err.message, INVALID_CODES.includes(err.code));
      }
      throw err;
    }
  }
}
