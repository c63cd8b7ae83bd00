// Mininet's LinearTopo for tests: switches s1 … sn in a chain, host h<i> on switch s<i>, all in
// 10.0.0.0/16 (h<i> at 10.0.0.0 + i). With `fl: true`, h1 is an fl-server and the others fl-clients.

import { TopologyBuilder } from '../spec/builder.ts';
import type { LinkShape, TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import { checkCount, hostAddress, type SmallTopologyOptions } from './star.ts';

export function linearTopology(n: number, opts: SmallTopologyOptions = {}): TopologySpec {
  checkCount(n, 'linear');
  const b = new TopologyBuilder(opts.name ?? `linear${n}`);
  const shape: LinkShape = { ...opts.link };
  for (let i = 1; i <= n; i++) {
    b.addSwitch(`s${i}`);
    b.addHost(`h${i}`, {
      ip: hostAddress(i),
      role: opts.fl ? (i === 1 ? 'fl-server' : 'fl-client') : 'plain',
    });
    b.addLink(`h${i}`, `s${i}`, shape);
    if (i > 1) b.addLink(`s${i - 1}`, `s${i}`, shape);
  }
  return b.build();
}
