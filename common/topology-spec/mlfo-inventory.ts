// The nodes an MLFO may place FL servers and clients on, derived from a topology: its fl-server
// and fl-client hosts, in the shape of the MLFO's nodes-only inventory (mlfo/src/inventory.ts).
// clientNet (the seed's ipstart arithmetic, <clientNet>.<ipstart>) is the /24 holding the most
// fl-clients; 10.0.1 (the seed's) when there are none.

import type { TopologySpec } from './topology-spec.ts';
import { parseCidr } from './validate.ts';

export interface MlfoInventoryNode {
  name: string;
  /** without prefix, e.g. 10.0.1.10 */
  address: string;
  role: 'fl-server' | 'fl-client';
  cohort?: number;
}

export interface MlfoInventory {
  clientNet: string;
  nodes: MlfoInventoryNode[];
}

export function mlfoInventoryFromSpec(spec: TopologySpec): MlfoInventory {
  const nodes: MlfoInventoryNode[] = [];
  const per24 = new Map<string, number>();
  for (const h of spec.hosts) {
    if (h.role !== 'fl-server' && h.role !== 'fl-client') continue;
    const address = parseCidr(h.ip)?.address ?? h.ip.replace(/\/.*$/, '');
    const node: MlfoInventoryNode = { name: h.name, address, role: h.role };
    if (h.cohort !== undefined) node.cohort = h.cohort;
    nodes.push(node);
    if (h.role === 'fl-client') {
      const net = address.split('.').slice(0, 3).join('.');
      per24.set(net, (per24.get(net) ?? 0) + 1);
    }
  }
  let clientNet = '10.0.1';
  let most = 0;
  for (const [net, count] of per24) {
    if (count > most) [clientNet, most] = [net, count];
  }
  return { clientNet, nodes };
}
