// Mininet's SingleSwitchTopo for tests: hosts h1 … hn on one switch s1, all in 10.0.0.0/16
// (h<i> at 10.0.0.0 + i). With `fl: true`, h1 is an fl-server and the others fl-clients.

import { TopologyBuilder } from '../spec/builder.ts';
import { TopologyError } from '../../../common/topology-spec/topology-error.ts';
import type { LinkShape, TopologySpec } from '../../../common/topology-spec/topology-spec.ts';

export interface SmallTopologyOptions {
  /** shaping of every link, e.g. {bandwidthMbps: 100} */
  link?: LinkShape;
  /** h1 fl-server, the others fl-client; default all plain */
  fl?: boolean;
  name?: string;
}

export const MAX_SMALL_HOSTS = 65534;

/** h<i>'s address: 10.0.0.0/16 plus i. */
export function hostAddress(i: number): string {
  return `10.0.${Math.floor(i / 256)}.${i % 256}/16`;
}

export function starTopology(n: number, opts: SmallTopologyOptions = {}): TopologySpec {
  checkCount(n, 'star');
  const b = new TopologyBuilder(opts.name ?? `star${n}`).addSwitch('s1');
  for (let i = 1; i <= n; i++) {
    b.addHost(`h${i}`, {
      ip: hostAddress(i),
      role: opts.fl ? (i === 1 ? 'fl-server' : 'fl-client') : 'plain',
    });
    b.addLink(`h${i}`, 's1', { ...opts.link });
  }
  return b.build();
}

export function checkCount(n: number, generator: string): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_SMALL_HOSTS) {
    throw new TopologyError(
      [{ path: 'hosts', message: `got ${n}; allowed: an integer 1–${MAX_SMALL_HOSTS}` }],
      `${generator} generator`,
    );
  }
}
