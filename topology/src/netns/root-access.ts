// The root access leg: a veth pair from the root namespace to one switch of the topology, so
// this machine (readiness checks, curl, sendintent, Prometheus, the port forwarder) reaches hosts
// at their spec addresses, as Containernet's docker0 did. Its root end takes the last usable
// address of the first host's subnet. The choice of switch and address is pure (planRootAccess);
// checkRoutes refuses a subnet that would collide with a route this machine already has.

import { run } from '../sh.ts';
import type { TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import { aliasPrefix, type NetworkPlan } from './plan.ts';
import type { RootLegRecord } from './state.ts';

export interface RootAccessPlan {
  /** null: no leg (rootAccess false, or no switch to attach to); `warnings` say why */
  leg: RootLegRecord | null;
  /** the subnet joined, e.g. 10.0.0.0/16 */
  subnet?: string;
  warnings: string[];
}

function toInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
}

function toIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** `a.b.c.d/len` (or a bare address, /32) → network number and prefix length. */
export function parseCidr(cidr: string): { network: number; prefix: number } {
  const [ip = '', len] = cidr.split('/');
  const prefix = len === undefined ? 32 : Number(len);
  return { network: (toInt(ip) & mask(prefix)) >>> 0, prefix };
}

export function subnetOf(cidr: string): string {
  const { network, prefix } = parseCidr(cidr);
  return `${toIp(network)}/${prefix}`;
}

export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  const m = mask(Math.min(x.prefix, y.prefix));
  return (x.network & m) >>> 0 === (y.network & m) >>> 0;
}

/** Root-namespace names of the leg: `m<tag>ra` (address) and `m<tag>rb` (on the bridge). */
export function rootLegNames(tag: string): { ifname: string; peer: string } {
  return { ifname: `m${tag}ra`, peer: `m${tag}rb` };
}

/** The switch of the first host with published ports, else the switch most hosts attach to. */
function chooseSwitch(spec: TopologySpec): string | undefined {
  const switches = new Set(spec.switches.map((s) => s.name));
  const switchOf = (host: string): string | undefined => {
    for (const l of spec.links) {
      if (l.a === host && switches.has(l.b)) return l.b;
      if (l.b === host && switches.has(l.a)) return l.a;
    }
    return undefined;
  };
  const publisher = spec.hosts.find((h) => Object.keys(h.publish ?? {}).length > 0);
  const byPublish = publisher ? switchOf(publisher.name) : undefined;
  if (byPublish) return byPublish;
  const hosts = new Set(spec.hosts.map((h) => h.name));
  const attached = new Map<string, Set<string>>();
  for (const l of spec.links) {
    for (const [sw, other] of [
      [l.a, l.b],
      [l.b, l.a],
    ] as const) {
      if (switches.has(sw) && hosts.has(other)) attached.set(sw, (attached.get(sw) ?? new Set()).add(other));
    }
  }
  let best: string | undefined;
  let most = 0;
  for (const s of spec.switches) {
    const n = attached.get(s.name)?.size ?? 0;
    if (n > most) {
      best = s.name;
      most = n;
    }
  }
  return best;
}

/** Decides the leg; throws when its address cannot be chosen (prefix too long, taken by a host). */
export function planRootAccess(spec: TopologySpec, plan: NetworkPlan, enabled: boolean): RootAccessPlan {
  const first = spec.hosts[0];
  if (!enabled) {
    return {
      leg: null,
      warnings: [
        'no root access leg (rootAccess: false): this machine does not reach the hosts at their addresses',
      ],
    };
  }
  if (!first) return { leg: null, warnings: [] };
  const sw = chooseSwitch(spec);
  if (sw === undefined) {
    return {
      leg: null,
      warnings: [
        spec.switches.length === 0
          ? 'no root access leg: the topology has no switches, so this machine does not reach the hosts at their addresses'
          : 'no root access leg: no host is attached to a switch, so this machine does not reach the hosts at their addresses',
      ],
    };
  }
  const { network, prefix } = parseCidr(first.ip);
  const subnet = `${toIp(network)}/${prefix}`;
  if (prefix > 30) {
    throw new Error(
      `root access leg: the first host ${first.name} (${first.ip}) is in a /${prefix} subnet, which has no spare ` +
        'address for this machine; give the hosts a prefix of /30 or shorter, or start with rootAccess: false',
    );
  }
  const broadcast = (network | (~mask(prefix) >>> 0)) >>> 0;
  const address = toIp(broadcast - 1);
  const taken = spec.hosts.find((h) => h.ip.split('/')[0] === address);
  if (taken) {
    throw new Error(
      `root access leg: its address ${address} (the last usable one of ${subnet}, the subnet of the first host ` +
        `${first.name}) is host ${taken.name}'s address; give ${taken.name} another address, or start with rootAccess: false`,
    );
  }
  const warnings: string[] = [];
  const outside = spec.hosts.filter((h) => !cidrsOverlap(`${h.ip.split('/')[0]}/32`, subnet));
  if (outside.length > 0) {
    const names = outside.slice(0, 5).map((h) => `${h.name} ${h.ip}`);
    warnings.push(
      `the topology has several subnets; the root access leg joins ${subnet} only, so ${outside.length} host(s) ` +
        `outside it are not reachable from this machine: ${names.join(', ')}${outside.length > 5 ? ', …' : ''}`,
    );
  }
  const bridge = plan.bridges.get(sw);
  if (bridge === undefined) throw new Error(`root access leg: switch ${sw} has no bridge in the plan`);
  return {
    leg: { ...rootLegNames(plan.tag), address: `${address}/${prefix}`, switch: sw, bridge },
    subnet,
    warnings,
  };
}

export interface RootRoute {
  dst: string;
  dev?: string;
  table?: string;
  type?: string;
}

/** IPv4 routes of the root namespace, every table. */
export async function rootRoutes(): Promise<RootRoute[]> {
  const { stdout } = await run(['ip', '-j', '-4', 'route', 'show', 'table', 'all']);
  return JSON.parse(stdout || '[]') as RootRoute[];
}

/** Throws, naming the route and its device, when `subnet` overlaps a route other than the default. */
export function checkRoutes(subnet: string, firstHost: string, routes: readonly RootRoute[]): void {
  for (const r of routes) {
    if (r.dst === 'default' || r.dst === '0.0.0.0/0' || !/^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(r.dst)) continue;
    if (!cidrsOverlap(r.dst, subnet)) continue;
    const route = `${r.type && r.type !== 'unicast' ? `${r.type} ` : ''}${r.dst}${r.dev ? ` dev ${r.dev}` : ''}${
      r.table && r.table !== 'main' ? ` (table ${r.table})` : ''
    }`;
    throw new Error(
      `root access leg: the topology's subnet ${subnet} (of its first host ${firstHost}) overlaps the route ` +
        `${route} already in this machine's root namespace, so the hosts cannot be given a leg without breaking ` +
        'that route. Nothing was created. Give the hosts another prefix/addressing, or start with rootAccess: false ' +
        '(this machine then does not reach the hosts, and ports are not published).',
    );
  }
}

/** ip -batch lines creating the leg (after the bridges exist). Unshaped. */
export function rootLegLines(leg: RootLegRecord, runId: string): string[] {
  const alias = `${aliasPrefix(runId)}root-access`;
  return [
    `link add name ${leg.ifname} type veth peer name ${leg.peer}`,
    `link set dev ${leg.ifname} alias ${alias}`,
    `link set dev ${leg.peer} alias ${alias}:${leg.switch}`,
    `link set dev ${leg.peer} master ${leg.bridge}`,
    `link set dev ${leg.peer} up`,
    `addr add ${leg.address} dev ${leg.ifname}`,
    `link set dev ${leg.ifname} up`,
  ];
}
