// Validation of a TopologySpec, before any backend touches the OS: validateSpec lists every problem
// (path such as `links[3].delayMs`, and a message naming the host, switch or link and what is
// allowed); assertValid throws them all at once. interfaceNames and linksNeedingNetem derive what
// a backend needs from a valid spec: the `<node>-eth<N>` name at each link end (N counts the node's
// links in spec order, from 0, as Mininet numbers host ports) and the link directions that ask for
// delay, jitter or loss (netem, which this machine's kernel lacks: see DESIGN.md).
//
// L2 model: switches are bridges without STP, so switch–switch links must form a forest; a segment
// is a tree of switches plus the host interfaces on it, or a host–host link on its own. There are
// no routers, so hosts that must talk (traffic source → sink, edge MLFO → parent) share a segment,
// and the hosts of a segment share one subnet.

import { type Problem, TopologyError } from './topology-error.ts';
import {
  HOST_ROLES,
  type HostSpec,
  type LinkShape,
  type LinkSpec,
  type TopologySpec,
} from './topology-spec.ts';

/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_INTERFACE_NAME = 15;
export const MIN_MEMORY_MB = 16;
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit";
const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Docker's reference grammar, loosely: [registry/]name[:tag][@digest], lower-case name parts. */
const IMAGE_RE = /^[a-z0-9][a-z0-9._/:-]*(:[A-Za-z0-9_.-]+)?(@sha256:[0-9a-f]{64})?$/;
const INSTANCE_KINDS = ['cloud', 'fog', 'edge'];

export interface Cidr {
  /** the address without prefix, e.g. 10.0.1.10 */
  address: string;
  prefix: number;
  /** the address as an unsigned 32-bit number */
  value: number;
  /** the network address as an unsigned 32-bit number */
  network: number;
}

/** Parses "a.b.c.d/p" (p 1–30); undefined when it is not one. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (m === null) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix < 1 || prefix > 30) return undefined;
  const value = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  return { address: octets.join('.'), prefix, value, network: value - (value % size) };
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(value / 2 ** s) % 256).join('.');
}

/** A link's shaping in one direction: the link's own figures overridden by `ab` or `ba`. */
export function effectiveShape(link: LinkSpec, direction: 'ab' | 'ba'): LinkShape {
  const out: LinkShape = {};
  for (const k of ['bandwidthMbps', 'delayMs', 'jitterMs', 'lossPercent'] as const) {
    const v = link[direction]?.[k] ?? link[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export interface LinkInterfaces {
  /** index in spec.links */
  link: number;
  a: string;
  b: string;
}

/** The interface name at each end of each link: `<node>-eth<N>`, N the node's link count so far (from 0). */
export function interfaceNames(spec: TopologySpec): LinkInterfaces[] {
  const count = new Map<string, number>();
  const next = (node: string): string => {
    const n = count.get(node) ?? 0;
    count.set(node, n + 1);
    return `${node}-eth${n}`;
  };
  return spec.links.map((l, link) => {
    const a = next(l.a);
    return { link, a, b: next(l.b) };
  });
}

export interface NetemDirection {
  /** index in spec.links */
  link: number;
  direction: 'ab' | 'ba';
  from: string;
  to: string;
  /** the interface whose egress carries this direction */
  interface: string;
  delayMs?: number;
  jitterMs?: number;
  lossPercent?: number;
  /** e.g. "satsw11→aggsw10 (links[8]): delay 12 ms" */
  label: string;
}

/** The link directions that ask for delay, jitter or loss, i.e. need netem. */
export function linksNeedingNetem(spec: TopologySpec): NetemDirection[] {
  const names = interfaceNames(spec);
  const out: NetemDirection[] = [];
  spec.links.forEach((l, link) => {
    for (const direction of ['ab', 'ba'] as const) {
      const s = effectiveShape(l, direction);
      const parts: string[] = [];
      if ((s.delayMs ?? 0) > 0) parts.push(`delay ${s.delayMs} ms`);
      if ((s.jitterMs ?? 0) > 0) parts.push(`jitter ${s.jitterMs} ms`);
      if ((s.lossPercent ?? 0) > 0) parts.push(`loss ${s.lossPercent}%`);
      if (parts.length === 0) continue;
      const [from, to] = direction === 'ab' ? [l.a, l.b] : [l.b, l.a];
      const ifs = names[link];
      const d: NetemDirection = {
        link,
        direction,
        from,
        to,
        interface: (direction === 'ab' ? ifs?.a : ifs?.b) ?? '',
        label: `${from}→${to} (links[${link}]): ${parts.join(', ')}`,
      };
      if ((s.delayMs ?? 0) > 0) d.delayMs = s.delayMs;
      if ((s.jitterMs ?? 0) > 0) d.jitterMs = s.jitterMs;
      if ((s.lossPercent ?? 0) > 0) d.lossPercent = s.lossPercent;
      out.push(d);
    }
  });
  return out;
}

/** Throws a TopologyError listing every problem of the spec; returns the spec when there is none. */
export function assertValid(spec: TopologySpec, where = `topology "${spec.name}"`): TopologySpec {
  const problems = validateSpec(spec);
  if (problems.length > 0) throw new TopologyError(problems, where);
  return spec;
}

type Fail = (path: string, message: string) => void;

/** What every check of one spec reads: the spec, where problems go, and its node names. */
interface SpecContext {
  spec: TopologySpec;
  fail: Fail;
  /** hosts and switches by name, with the path that named them first */
  nodes: Map<string, { kind: 'host' | 'switch'; path: string }>;
  hostByName: Map<string, HostSpec>;
  isSwitch: (name: string) => boolean;
}

/** The L2 picture the links draw, which the segment, reachability and instance checks read. */
interface Segments {
  /** nodes at the end of some link */
  linked: Set<string>;
  /** switch trees */
  uf: UnionFind;
  /** each host's segments: the root of its switch tree, or `link#i` for a host–host link */
  hostSegments: Map<string, Set<string>>;
}

export function validateSpec(spec: TopologySpec): Problem[] {
  const problems: Problem[] = [];
  const fail: Fail = (path, message) => problems.push({ path, message });

  if (typeof spec.name !== 'string' || !NAME_RE.test(spec.name)) {
    fail('name', `topology name ${JSON.stringify(spec.name)}; allowed: ${NAME_RULE}`);
  }
  const nodes = claimNames(spec, fail);
  const ctx: SpecContext = {
    spec,
    fail,
    nodes,
    hostByName: new Map(spec.hosts.map((h) => [h.name, h])),
    isSwitch: (n) => nodes.get(n)?.kind === 'switch',
  };
  const cidrs = checkHosts(ctx);
  const segments = checkLinks(ctx);
  checkEveryHostLinked(ctx, segments);
  checkOneSubnetPerSegment(ctx, segments, cidrs);
  checkPeersReachable(ctx, segments);
  checkInstances(ctx, segments);
  return problems;
}

/** Names: hosts and switches share one namespace (both become interface-name prefixes). */
function claimNames(spec: TopologySpec, fail: Fail): SpecContext['nodes'] {
  const nodes: SpecContext['nodes'] = new Map();
  const claim = (name: string, kind: 'host' | 'switch', path: string) => {
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      fail(`${path}.name`, `${kind} name ${JSON.stringify(name)}; allowed: ${NAME_RULE}`);
      return;
    }
    const seen = nodes.get(name);
    if (seen !== undefined) {
      fail(
        `${path}.name`,
        `${kind} name ${name} is already the name of the ${seen.kind} at ${seen.path}; allowed: each host and switch name once`,
      );
      return;
    }
    nodes.set(name, { kind, path });
  };
  for (const [i, h] of spec.hosts.entries()) claim(h.name, 'host', `hosts[${i}]`);
  for (const [i, s] of spec.switches.entries()) claim(s.name, 'switch', `switches[${i}]`);
  return nodes;
}

/** Hosts, each on its own; returns the addresses that parsed, by host name. */
function checkHosts(ctx: SpecContext): Map<string, Cidr> {
  const cidrs = new Map<string, Cidr>();
  const addresses = new Map<string, string>();
  const published = new Map<number, string>();
  const instanceNames = new Set((ctx.spec.instances ?? []).map((i) => i.name));
  ctx.spec.hosts.forEach((h, i) => {
    const path = `hosts[${i}]`;
    const who = `host ${h.name}`;
    checkHostAddress(ctx.fail, h, path, who, cidrs, addresses);
    checkHostRoleAndResources(ctx.fail, h, path, who);
    checkHostRelations(ctx, h, path, who, instanceNames);
    checkHostPublish(ctx.fail, h, path, who, published);
  });
  return cidrs;
}

/** ip: a usable address of its subnet, each address once. */
function checkHostAddress(
  fail: Fail,
  h: HostSpec,
  path: string,
  who: string,
  cidrs: Map<string, Cidr>,
  addresses: Map<string, string>,
): void {
  const cidr = parseCidr(h.ip);
  if (cidr === undefined) {
    fail(
      `${path}.ip`,
      `${who}: ip ${JSON.stringify(h.ip)}; allowed: an IPv4 address with prefix length 1–30, such as 10.0.1.10/16`,
    );
    return;
  }
  cidrs.set(h.name, cidr);
  const broadcast = cidr.network + 2 ** (32 - cidr.prefix) - 1;
  if (cidr.value === cidr.network || cidr.value === broadcast) {
    fail(
      `${path}.ip`,
      `${who}: ${h.ip} is the ${cidr.value === cidr.network ? 'network' : 'broadcast'} address of ${formatIpv4(cidr.network)}/${cidr.prefix}; ` +
        `allowed: ${formatIpv4(cidr.network + 1)}–${formatIpv4(broadcast - 1)}`,
    );
  }
  const other = addresses.get(cidr.address);
  if (other !== undefined) {
    fail(
      `${path}.ip`,
      `${who}: address ${cidr.address} is already host ${other}'s; allowed: each address once`,
    );
  } else addresses.set(cidr.address, h.name);
}

/** role, cpus, memoryMb, env, image, command. */
function checkHostRoleAndResources(fail: Fail, h: HostSpec, path: string, who: string): void {
  if (!(HOST_ROLES as readonly string[]).includes(h.role)) {
    fail(`${path}.role`, `${who}: role ${JSON.stringify(h.role)}; allowed: ${HOST_ROLES.join(', ')}`);
  }
  if (h.cpus !== undefined && !(Number.isFinite(h.cpus) && h.cpus > 0)) {
    fail(`${path}.cpus`, `${who}: cpus ${h.cpus}; allowed: a number of cores > 0, such as 2 or 0.5`);
  }
  if (h.memoryMb !== undefined && !(Number.isFinite(h.memoryMb) && h.memoryMb >= MIN_MEMORY_MB)) {
    fail(`${path}.memoryMb`, `${who}: memoryMb ${h.memoryMb}; allowed: a number ≥ ${MIN_MEMORY_MB}`);
  }
  for (const [k, v] of Object.entries(h.env ?? {})) {
    if (!ENV_RE.test(k)) {
      fail(
        `${path}.env.${k}`,
        `${who}: environment variable name ${JSON.stringify(k)}; allowed: [A-Za-z_][A-Za-z0-9_]*`,
      );
    }
    if (typeof v !== 'string') fail(`${path}.env.${k}`, `${who}: env ${k} is not text; allowed: text values`);
  }
  if (h.image !== undefined && !IMAGE_RE.test(h.image)) {
    fail(
      `${path}.image`,
      `${who}: image ${JSON.stringify(h.image)}; allowed: an image reference such as mlfo:latest or registry/name:tag`,
    );
  }
  if (h.command !== undefined) {
    if (!Array.isArray(h.command) || h.command.length === 0) {
      fail(`${path}.command`, `${who}: command is empty; allowed: a list [program, argument, …]`);
    } else {
      h.command.forEach((a, i) => {
        if (typeof a !== 'string' || (i === 0 && a === '')) {
          fail(
            `${path}.command[${i}]`,
            `${who}: command[${i}] ${JSON.stringify(a)}; allowed: text (the program first)`,
          );
        }
      });
    }
  }
}

/** The fields naming something else, each allowed on some roles only: cohort, instance, traffic, parent. */
function checkHostRelations(
  ctx: SpecContext,
  h: HostSpec,
  path: string,
  who: string,
  instanceNames: Set<string>,
): void {
  const { fail, hostByName } = ctx;
  if (h.cohort !== undefined) {
    if (!Number.isInteger(h.cohort) || h.cohort < 1) {
      fail(`${path}.cohort`, `${who}: cohort ${h.cohort}; allowed: an integer ≥ 1`);
    }
    if (h.role !== 'fl-server' && h.role !== 'fl-client') {
      fail(`${path}.cohort`, `${who} is ${h.role}; allowed: cohort only on fl-server and fl-client hosts`);
    }
  }
  if (h.instance !== undefined && !instanceNames.has(h.instance)) {
    fail(
      `${path}.instance`,
      `${who}: instance ${JSON.stringify(h.instance)} is not defined; allowed: ${listOr([...instanceNames])}`,
    );
  }
  if (h.traffic !== undefined) {
    if (h.role !== 'traffic-source') {
      fail(`${path}.traffic`, `${who} is ${h.role}; allowed: traffic only on traffic-source hosts`);
    }
    if (!hostByName.has(h.traffic.to) || h.traffic.to === h.name) {
      fail(
        `${path}.traffic.to`,
        `${who}: traffic.to ${JSON.stringify(h.traffic.to)} is not another host; allowed: a host name of this topology`,
      );
    }
    if (!(Number.isFinite(h.traffic.rateMbps) && h.traffic.rateMbps > 0)) {
      fail(
        `${path}.traffic.rateMbps`,
        `${who}: traffic.rateMbps ${h.traffic.rateMbps}; allowed: a number > 0`,
      );
    }
  } else if (h.role === 'traffic-source') {
    fail(
      `${path}.traffic`,
      `${who} is a traffic-source without traffic; allowed: traffic: {to: <host>, rateMbps: <n>}`,
    );
  }
  if (h.parent !== undefined) {
    if (h.role !== 'mlfo-edge') {
      fail(`${path}.parent`, `${who} is ${h.role}; allowed: parent only on mlfo-edge hosts`);
    }
    if (hostByName.get(h.parent)?.role !== 'mlfo-cloud') {
      const clouds = ctx.spec.hosts.filter((o) => o.role === 'mlfo-cloud').map((o) => o.name);
      fail(
        `${path}.parent`,
        `${who}: parent ${JSON.stringify(h.parent)} is not an mlfo-cloud host; allowed: ${listOr(clouds)}`,
      );
    }
  } else if (h.role === 'mlfo-edge') {
    fail(`${path}.parent`, `${who} is an mlfo-edge without parent; allowed: parent: <an mlfo-cloud host>`);
  }
}

/** publish: ports, each port of this machine published once over all hosts. */
function checkHostPublish(
  fail: Fail,
  h: HostSpec,
  path: string,
  who: string,
  published: Map<number, string>,
): void {
  for (const [inner, outer] of Object.entries(h.publish ?? {})) {
    const p = `${path}.publish.${inner}`;
    if (!isPort(Number(inner)) || !/^\d+$/.test(inner)) {
      fail(p, `${who}: publish port ${JSON.stringify(inner)}; allowed: a port 1–65535`);
    }
    if (!isPort(outer)) {
      fail(p, `${who}: publish ${inner} as ${outer}; allowed: a port 1–65535`);
    } else if (published.has(outer)) {
      fail(
        p,
        `${who}: port ${outer} on this machine is already published by host ${published.get(outer)}; allowed: each port once`,
      );
    } else published.set(outer, h.name);
  }
}

/** Links: ends, shaping, interface names; switch trees and segments. */
function checkLinks(ctx: SpecContext): Segments {
  const { spec, fail, nodes, isSwitch } = ctx;
  const segments: Segments = { linked: new Set(), uf: new UnionFind(), hostSegments: new Map() };
  const { linked, uf, hostSegments } = segments;
  const names = interfaceNames(spec);
  const attach = (host: string, segment: string) => {
    const set = hostSegments.get(host) ?? new Set<string>();
    set.add(segment);
    hostSegments.set(host, set);
  };
  const hostEnds: Array<{ host: string; switchOrLink: string }> = [];
  spec.links.forEach((l, i) => {
    const path = `links[${i}]`;
    const label = `link ${l.a}–${l.b}`;
    let endsKnown = true;
    for (const end of ['a', 'b'] as const) {
      const n = l[end];
      if (!nodes.has(n)) {
        endsKnown = false;
        fail(
          `${path}.${end}`,
          `${label}: ${end} ${JSON.stringify(n)} is not a host or switch of this topology`,
        );
      } else linked.add(n);
    }
    if (l.a === l.b) fail(path, `${label} connects ${l.a} to itself; allowed: two different nodes`);
    checkShape(l, path, label, fail);
    for (const dir of ['ab', 'ba'] as const) {
      const d = l[dir];
      if (d !== undefined)
        checkShape(
          d,
          `${path}.${dir}`,
          `${label} (${dir === 'ab' ? `${l.a}→${l.b}` : `${l.b}→${l.a}`})`,
          fail,
        );
    }
    checkInterfaceNames(fail, l, names[i], path, label);
    if (!endsKnown || l.a === l.b) return;
    const [sa, sb] = [isSwitch(l.a), isSwitch(l.b)];
    if (sa && sb) {
      if (!uf.union(l.a, l.b)) {
        fail(
          path,
          `${label} closes a loop of switches; allowed: switch links forming a tree (Linux bridges run without STP, a loop floods forever)`,
        );
      }
    } else if (sa || sb) {
      hostEnds.push({ host: sa ? l.b : l.a, switchOrLink: sa ? l.a : l.b });
    } else {
      attach(l.a, `link#${i}`);
      attach(l.b, `link#${i}`);
    }
  });
  for (const e of hostEnds) attach(e.host, uf.find(e.switchOrLink));
  return segments;
}

function checkInterfaceNames(
  fail: Fail,
  l: LinkSpec,
  ifs: LinkInterfaces | undefined,
  path: string,
  label: string,
): void {
  for (const end of ['a', 'b'] as const) {
    const ifname = ifs?.[end] ?? '';
    if (ifname.length > MAX_INTERFACE_NAME) {
      fail(
        `${path}.${end}`,
        `${label}: interface name ${ifname} of ${l[end]} (its link #${ifname.slice(ifname.lastIndexOf('-eth') + 4)}) is ${ifname.length} characters; ` +
          `allowed: at most ${MAX_INTERFACE_NAME} (Linux IFNAMSIZ): shorten the name ${l[end]} or give it fewer links`,
      );
    }
  }
}

function checkEveryHostLinked(ctx: SpecContext, { linked }: Segments): void {
  ctx.spec.hosts.forEach((h, i) => {
    if (!linked.has(h.name) && ctx.nodes.get(h.name)?.path === `hosts[${i}]`) {
      ctx.fail(
        `hosts[${i}]`,
        `host ${h.name} is in no link; allowed: every host linked to a switch or another host`,
      );
    }
  });
}

/** One subnet per segment. */
function checkOneSubnetPerSegment(
  ctx: SpecContext,
  { hostSegments }: Segments,
  cidrs: Map<string, Cidr>,
): void {
  const segmentHosts = new Map<string, string[]>();
  for (const [host, segs] of hostSegments) {
    for (const s of segs) segmentHosts.set(s, [...(segmentHosts.get(s) ?? []), host]);
  }
  const reported = new Set<string>();
  for (const members of segmentHosts.values()) {
    const first = members.find((m) => cidrs.has(m));
    if (first === undefined) continue;
    const f = cidrs.get(first)!;
    for (const m of members) {
      const c = cidrs.get(m);
      if (c === undefined || (c.prefix === f.prefix && c.network === f.network) || reported.has(m)) continue;
      reported.add(m);
      const idx = ctx.spec.hosts.findIndex((h) => h.name === m);
      ctx.fail(
        `hosts[${idx}].ip`,
        `host ${m} (${c.address}/${c.prefix}, subnet ${formatIpv4(c.network)}/${c.prefix}) shares an L2 segment with host ${first} ` +
          `(subnet ${formatIpv4(f.network)}/${f.prefix}); allowed: one subnet per segment (there are no routers)`,
      );
    }
  }
}

/** A host's traffic.to and parent must share an L2 segment with it: there are no routers. */
function checkPeersReachable(ctx: SpecContext, { linked, hostSegments }: Segments): void {
  const sameSegment = (a: string, b: string) => {
    const sa = hostSegments.get(a);
    const sb = hostSegments.get(b);
    return sa !== undefined && sb !== undefined && [...sa].some((s) => sb.has(s));
  };
  ctx.spec.hosts.forEach((h, i) => {
    const checks: Array<[string, string | undefined]> = [
      ['traffic.to', h.traffic?.to],
      ['parent', h.parent],
    ];
    for (const [field, other] of checks) {
      if (other === undefined || !ctx.hostByName.has(other) || other === h.name) continue;
      if (!linked.has(h.name) || !linked.has(other) || sameSegment(h.name, other)) continue;
      ctx.fail(
        `hosts[${i}].${field}`,
        `host ${h.name}: ${field} ${other} is on another L2 segment, unreachable without a router; allowed: a host connected to ${h.name} through switches`,
      );
    }
  });
}

/** Instances: names, kind, switch, resources, and that their member hosts sit behind the switch and fit. */
function checkInstances(ctx: SpecContext, { linked, uf, hostSegments }: Segments): void {
  const { spec, fail, isSwitch } = ctx;
  const seenInstances = new Set<string>();
  (spec.instances ?? []).forEach((inst, i) => {
    const path = `instances[${i}]`;
    const who = `instance ${inst.name}`;
    if (typeof inst.name !== 'string' || !NAME_RE.test(inst.name)) {
      fail(`${path}.name`, `instance name ${JSON.stringify(inst.name)}; allowed: ${NAME_RULE}`);
    } else if (seenInstances.has(inst.name)) {
      fail(`${path}.name`, `instance name ${inst.name} is used twice; allowed: each instance name once`);
    }
    seenInstances.add(inst.name);
    if (!INSTANCE_KINDS.includes(inst.kind)) {
      fail(
        `${path}.kind`,
        `${who}: kind ${JSON.stringify(inst.kind)}; allowed: ${INSTANCE_KINDS.join(', ')}`,
      );
    }
    if (!isSwitch(inst.switch)) {
      fail(
        `${path}.switch`,
        `${who}: switch ${JSON.stringify(inst.switch)} is not a switch of this topology; allowed: ${listOr(spec.switches.map((s) => s.name))}`,
      );
    }
    if (inst.cpus !== undefined && !(Number.isFinite(inst.cpus) && inst.cpus > 0)) {
      fail(`${path}.cpus`, `${who}: cpus ${inst.cpus}; allowed: a number of cores > 0`);
    }
    if (inst.memoryMb !== undefined && !(Number.isFinite(inst.memoryMb) && inst.memoryMb >= MIN_MEMORY_MB)) {
      fail(`${path}.memoryMb`, `${who}: memoryMb ${inst.memoryMb}; allowed: a number ≥ ${MIN_MEMORY_MB}`);
    }
    const members = spec.hosts.filter((h) => h.instance === inst.name);
    if (isSwitch(inst.switch)) {
      const root = uf.find(inst.switch);
      for (const m of members) {
        if (linked.has(m.name) && !hostSegments.get(m.name)?.has(root)) {
          fail(
            `${path}.switch`,
            `${who}: member host ${m.name} is not connected to switch ${inst.switch}; allowed: hosts behind the instance's switch`,
          );
        }
      }
    }
    for (const [key, unit] of [
      ['cpus', 'cores'],
      ['memoryMb', 'MiB'],
    ] as const) {
      const total = inst[key];
      if (total === undefined) continue;
      const sum = members.reduce((acc, m) => acc + (m[key] ?? 0), 0);
      if (sum > total) {
        fail(
          `${path}.${key}`,
          `${who}: its hosts ask for ${sum} ${unit} in all (${members
            .filter((m) => m[key] !== undefined)
            .map((m) => `${m.name} ${m[key]}`)
            .join(', ')}); allowed: at most the instance's ${key} ${total}`,
        );
      }
    }
  });
}

function checkShape(s: LinkShape, path: string, label: string, fail: Fail): void {
  if (s.bandwidthMbps !== undefined && !(Number.isFinite(s.bandwidthMbps) && s.bandwidthMbps > 0)) {
    fail(
      `${path}.bandwidthMbps`,
      `${label}: bandwidthMbps ${s.bandwidthMbps}; allowed: a finite number > 0 (Mbit/s), or none for unshaped`,
    );
  }
  for (const k of ['delayMs', 'jitterMs'] as const) {
    const v = s[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
      fail(`${path}.${k}`, `${label}: ${k} ${v}; allowed: a finite number ≥ 0 (ms)`);
    }
  }
  if (
    s.lossPercent !== undefined &&
    !(Number.isFinite(s.lossPercent) && s.lossPercent >= 0 && s.lossPercent <= 100)
  ) {
    fail(`${path}.lossPercent`, `${label}: lossPercent ${s.lossPercent}; allowed: a number in [0, 100]`);
  }
}

function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

function listOr(names: string[]): string {
  if (names.length === 0) return 'none defined';
  return names.length <= 8 ? names.join(', ') : `${names.slice(0, 8).join(', ')}, … ${names.length} in all`;
}

class UnionFind {
  private readonly parent = new Map<string, string>();

  find(x: string): string {
    let root = x;
    for (let p = this.parent.get(root); p !== undefined && p !== root; p = this.parent.get(root)) root = p;
    this.parent.set(x, root);
    return root;
  }

  /** false when a and b were already joined (the new edge closes a loop) */
  union(a: string, b: string): boolean {
    const [ra, rb] = [this.find(a), this.find(b)];
    if (ra === rb) return false;
    this.parent.set(ra, rb);
    return true;
  }
}
