// The inventory: the nodes an MLFO may place FL servers and clients on. It is read once at start
// from a topology file (common/topology-spec/spec-yaml.ts: `hosts:`, `switches:`, `links:`; its
// fl-server and fl-client hosts become the nodes, validated by the topology validator) or from a
// nodes-only YAML form:
//
//   clientNet: 10.0.1          # optional; ipstart N means the client at <clientNet>.N (seed: 10.0.1)
//   nodes:
//     - {name: fed.1, address: 10.0.0.101, role: fl-server}
//     - {name: fc.10, address: 10.0.1.10, role: fl-client, cohort: 1}   # restPort optional, default 5000
//
// selectByIpstart reproduces the seed's address arithmetic but refuses addresses that are not
// fl-client nodes here (a 422 naming them) instead of posting into the void.

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { mlfoInventoryFromSpec } from '../../common/topology-spec/mlfo-inventory.ts';
import { looksLikeTopology, parseTopologyYaml } from '../../common/topology-spec/spec-yaml.ts';
import { TopologyError } from '../../common/topology-spec/topology-error.ts';

export type NodeRole = 'fl-server' | 'fl-client';
const NODE_ROLES: readonly NodeRole[] = ['fl-server', 'fl-client'];

export interface InventoryNode {
  name: string;
  address: string;
  role: NodeRole;
  cohort?: string;
  restPort: number;
}

export interface Inventory {
  fileName: string;
  clientNet: string;
  nodes: readonly InventoryNode[];
  servers(): InventoryNode[];
  clients(): InventoryNode[];
  byName(name: string): InventoryNode | undefined;
  byAddress(address: string): InventoryNode | undefined;
}

export class InventoryError extends Error {
  override name = 'InventoryError';
}

/** A request that names nodes the inventory cannot serve; the API answers 422. */
export class NodeSelectionError extends Error {
  override name = 'NodeSelectionError';
  readonly status = 422;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const NET_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const KEYS = ['name', 'address', 'role', 'cohort', 'restPort'];

export function restUrl(node: Pick<InventoryNode, 'address' | 'restPort'>): string {
  return `http://${node.address.includes(':') ? `[${node.address}]` : node.address}:${node.restPort}`;
}

export function parseInventory(text: string, fileName: string): Inventory {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new InventoryError(`inventory ${fileName}: not valid YAML: ${(err as Error).message}`);
  }
  const problems: string[] = [];
  const fail = (where: string, msg: string) => problems.push(`inventory ${fileName}: ${where}: ${msg}`);
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new InventoryError(
      `inventory ${fileName}: expected a mapping with nodes: [...], or a topology file (hosts, switches, links)`,
    );
  }
  if (looksLikeTopology(doc)) return inventoryFromTopology(text, fileName);
  const root = doc as Record<string, unknown>;
  for (const k of Object.keys(root)) {
    if (!['nodes', 'clientNet'].includes(k))
      fail(k, 'unknown key; allowed: nodes, clientNet (or a topology file: name, hosts, switches, links)');
  }
  let clientNet = '10.0.1';
  if (root['clientNet'] !== undefined) {
    const v = String(root['clientNet']);
    if (NET_RE.test(v)) clientNet = v;
    else fail('clientNet', `got ${JSON.stringify(v)}; allowed: three IPv4 octets such as 10.0.1`);
  }
  const nodes: InventoryNode[] = [];
  const list = root['nodes'];
  if (!Array.isArray(list) || list.length === 0) {
    fail('nodes', 'missing or empty; expected a list of {name, address, role: fl-server|fl-client}');
  } else {
    list.forEach((raw, i) => {
      const where = `nodes[${i}]`;
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        fail(where, 'expected a mapping {name, address, role}');
        return;
      }
      const n = raw as Record<string, unknown>;
      for (const k of Object.keys(n)) {
        if (!KEYS.includes(k)) fail(`${where}.${k}`, `unknown key; allowed: ${KEYS.join(', ')}`);
      }
      const name = String(n['name'] ?? '');
      const address = String(n['address'] ?? '');
      const role = String(n['role'] ?? '');
      const before = problems.length;
      if (!NAME_RE.test(name))
        fail(`${where}.name`, `got ${JSON.stringify(name)}; allowed: a node name like fc.10`);
      const m = IPV4_RE.exec(address);
      if (m === null || m.slice(1).some((o) => Number(o) > 255)) {
        fail(`${where}.address`, `got ${JSON.stringify(address)}; allowed: an IPv4 address like 10.0.1.10`);
      }
      if (!(NODE_ROLES as readonly string[]).includes(role)) {
        fail(`${where}.role`, `got ${JSON.stringify(role)}; allowed: ${NODE_ROLES.join(', ')}`);
      }
      let restPort = 5000;
      if (n['restPort'] !== undefined) {
        restPort = Number(n['restPort']);
        if (!Number.isInteger(restPort) || restPort < 1 || restPort > 65535) {
          fail(`${where}.restPort`, `got ${JSON.stringify(n['restPort'])}; allowed: a port 1–65535`);
        }
      }
      if (nodes.some((o) => o.name === name)) fail(`${where}.name`, `${name} is listed twice`);
      if (nodes.some((o) => o.address === address && o.restPort === restPort)) {
        fail(`${where}.address`, `${address}:${restPort} is already another node's`);
      }
      if (problems.length > before) return;
      const node: InventoryNode = { name, address, role: role as NodeRole, restPort };
      if (n['cohort'] !== undefined) node.cohort = String(n['cohort']);
      nodes.push(node);
    });
  }
  if (problems.length > 0) throw new InventoryError(problems.join('\n'));
  return makeInventory(fileName, clientNet, nodes);
}

/** A topology file as inventory: every problem the topology validator finds is an inventory error. */
function inventoryFromTopology(text: string, fileName: string): Inventory {
  let parsed: ReturnType<typeof parseTopologyYaml>;
  try {
    parsed = parseTopologyYaml(text, fileName);
  } catch (err) {
    if (!(err instanceof TopologyError)) throw err;
    throw new InventoryError(
      err.message
        .split('\n')
        .map((line) => `inventory ${line}`)
        .join('\n'),
    );
  }
  const derived = mlfoInventoryFromSpec(parsed.spec);
  const nodes = derived.nodes.map((n) => {
    const node: InventoryNode = { name: n.name, address: n.address, role: n.role, restPort: 5000 };
    if (n.cohort !== undefined) node.cohort = String(n.cohort);
    return node;
  });
  if (nodes.length === 0) {
    throw new InventoryError(`inventory ${fileName}: the topology has no fl-server or fl-client hosts`);
  }
  return makeInventory(fileName, derived.clientNet, nodes);
}

function makeInventory(fileName: string, clientNet: string, nodes: InventoryNode[]): Inventory {
  return {
    fileName,
    clientNet,
    nodes,
    servers: () => nodes.filter((n) => n.role === 'fl-server'),
    clients: () => nodes.filter((n) => n.role === 'fl-client'),
    byName: (name) => nodes.find((n) => n.name === name),
    byAddress: (address) => nodes.find((n) => n.address === address),
  };
}

export function loadInventory(path: string): Inventory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InventoryError(`inventory ${path}: cannot read it: ${(err as Error).message}`);
  }
  return parseInventory(text, path);
}

/** The seed's selection: clients <clientNet>.ipstart … <clientNet>.(ipstart + size − 1), all fl-client nodes here. */
export function selectByIpstart(inv: Inventory, ipstart: number, size: number): InventoryNode[] {
  const picked: InventoryNode[] = [];
  const missing: string[] = [];
  for (let i = 0; i < size; i++) {
    const address = `${inv.clientNet}.${ipstart + i}`;
    const node = inv.byAddress(address);
    if (node?.role === 'fl-client') picked.push(node);
    else missing.push(node === undefined ? address : `${address} (${node.name} is ${node.role})`);
  }
  if (missing.length > 0) {
    const known = inv.clients().map((n) => n.address);
    throw new NodeSelectionError(
      `form.ipstart/cohortsize: ${missing.join(', ')} ${missing.length === 1 ? 'is not an fl-client node' : 'are not fl-client nodes'} in inventory ${inv.fileName}; ` +
        `allowed: addresses of fl-client nodes (${known.length === 0 ? 'none listed' : summarise(known)})`,
    );
  }
  return picked;
}

function summarise(list: string[]): string {
  return list.length <= 12 ? list.join(', ') : `${list.slice(0, 10).join(', ')}, … ${list.length} in all`;
}
