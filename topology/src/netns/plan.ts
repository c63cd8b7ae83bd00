// Turns a TopologySpec into the netns backend's plan: which namespace, bridge and veth names a
// run uses, which interface each link end gets and how each direction is shaped. Pure: nothing
// here touches the OS, so names can be computed again by `cleanRun` and checked in unit tests.
//
// Naming (every name carries the run): a host is the namespace `mlfo-<runId>.<host>` (a run id
// has no '.', so the prefix `mlfo-<runId>.` belongs to exactly one run); its interfaces are
// `<host>-eth<N>` inside it (N = the host's link index in spec order). Names in the root
// namespace must fit Linux's 15 characters, so they use a 7-hex tag derived from the run id:
// bridge `m<tag>b<i>`, switch-side veth ends `m<tag>v<i>a|b`, root access leg `m<tag>ra|rb`;
// each also gets the interface alias `mlfo:<runId>:…` so a leftover can be traced to its run.

import { createHash } from 'node:crypto';
import { RUN_ID_PATTERN } from '../run-id.ts';
import type { LinkShape, TopologySpec } from '../../../common/topology-spec/topology-spec.ts';

/** Re-exported for modules that import it from here. */
export { RUN_ID_PATTERN };
const IFNAMSIZ = 15;

export function runTag(runId: string): string {
  return createHash('sha256').update(runId).digest('hex').slice(0, 7);
}
export function namespaceName(runId: string, host: string): string {
  return `mlfo-${runId}.${host}`;
}
export function namespacePrefix(runId: string): string {
  return `mlfo-${runId}.`;
}
export function aliasPrefix(runId: string): string {
  return `mlfo:${runId}:`;
}
/** Matches the root-namespace interface names (bridges, veth ends, root access leg) of the run with this tag. */
export function rootNamePattern(tag: string): RegExp {
  return new RegExp(`^m${tag}(b\\d+|v\\d+[ab]|r[ab])$`);
}

export type LinkEnd =
  | { kind: 'host'; node: string; ns: string; ifname: string }
  | { kind: 'switch'; node: string; bridge: string; ifname: string };

export interface PlannedLink {
  index: number;
  a: LinkEnd;
  b: LinkEnd;
  /** shaping of a→b (egress of a's end) and b→a (egress of b's end) */
  ab: LinkShape;
  ba: LinkShape;
}

export interface PlannedHost {
  name: string;
  ns: string;
  ip: string;
  interfaces: string[];
  cpus?: number;
  memoryMb?: number;
  env: Record<string, string>;
}

export interface NetworkPlan {
  runId: string;
  tag: string;
  hosts: PlannedHost[];
  /** switch name → bridge name */
  bridges: Map<string, string>;
  links: PlannedLink[];
}

export function needsNetem(shape: LinkShape): boolean {
  return (shape.delayMs ?? 0) > 0 || (shape.jitterMs ?? 0) > 0 || (shape.lossPercent ?? 0) > 0;
}

function mergeShape(base: LinkShape, over: LinkShape | undefined): LinkShape {
  const out: LinkShape = {};
  for (const k of ['bandwidthMbps', 'delayMs', 'jitterMs', 'lossPercent'] as const) {
    const v = over?.[k] ?? base[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export function linkLabel(a: string, b: string): string {
  return `${a}–${b}`;
}

/** Computes the plan; throws with every problem found (the spec module validates more fully). */
export function planNetwork(spec: TopologySpec, runId: string): NetworkPlan {
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new Error(`run id ${JSON.stringify(runId)} is not allowed: use 1–48 of [A-Za-z0-9_-]`);
  }
  const tag = runTag(runId);
  const problems: string[] = [];
  const hostNames = new Set<string>();
  const switchNames = new Set<string>();
  for (const h of spec.hosts) {
    if (hostNames.has(h.name) || switchNames.has(h.name)) problems.push(`duplicate node name ${h.name}`);
    if (!/^[A-Za-z0-9._-]+$/.test(h.name)) problems.push(`host ${h.name}: name may only use [A-Za-z0-9._-]`);
    hostNames.add(h.name);
  }
  const bridges = new Map<string, string>();
  spec.switches.forEach((s, i) => {
    if (hostNames.has(s.name) || switchNames.has(s.name)) problems.push(`duplicate node name ${s.name}`);
    switchNames.add(s.name);
    bridges.set(s.name, `m${tag}b${i}`);
  });
  const linkCount = new Map<string, number>();
  const ifacesOf = new Map<string, string[]>();
  const links: PlannedLink[] = [];
  spec.links.forEach((l, index) => {
    const end = (node: string, side: 'a' | 'b'): LinkEnd | undefined => {
      const n = linkCount.get(node) ?? 0;
      linkCount.set(node, n + 1);
      if (hostNames.has(node)) {
        const ifname = `${node}-eth${n}`;
        if (ifname.length > IFNAMSIZ) {
          problems.push(
            `link ${index} (${linkLabel(l.a, l.b)}): interface name ${ifname} is longer than ${IFNAMSIZ}`,
          );
        }
        ifacesOf.set(node, [...(ifacesOf.get(node) ?? []), ifname]);
        return { kind: 'host', node, ns: namespaceName(runId, node), ifname };
      }
      const bridge = bridges.get(node);
      if (bridge !== undefined) return { kind: 'switch', node, bridge, ifname: `m${tag}v${index}${side}` };
      problems.push(`link ${index} (${linkLabel(l.a, l.b)}): unknown node ${node}`);
      return undefined;
    };
    const a = end(l.a, 'a');
    const b = end(l.b, 'b');
    if (l.a === l.b) problems.push(`link ${index}: both ends are ${l.a}`);
    for (const [dir, s] of [
      ['', l],
      ['ab', l.ab],
      ['ba', l.ba],
    ] as const) {
      if (s?.bandwidthMbps !== undefined && !(s.bandwidthMbps > 0)) {
        problems.push(
          `link ${index} (${linkLabel(l.a, l.b)})${dir ? ` ${dir}` : ''}: bandwidthMbps must be > 0`,
        );
      }
    }
    if (a && b) links.push({ index, a, b, ab: mergeShape(l, l.ab), ba: mergeShape(l, l.ba) });
  });
  const hosts: PlannedHost[] = spec.hosts.map((h) => {
    const interfaces = ifacesOf.get(h.name) ?? [];
    if (interfaces.length === 0) problems.push(`host ${h.name} is in no link`);
    if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(h.ip))
      problems.push(`host ${h.name}: ip ${h.ip} is not <a.b.c.d>/<prefix>`);
    const p: PlannedHost = {
      name: h.name,
      ns: namespaceName(runId, h.name),
      ip: h.ip,
      interfaces,
      env: h.env ?? {},
    };
    if (h.cpus !== undefined) p.cpus = h.cpus;
    if (h.memoryMb !== undefined) p.memoryMb = h.memoryMb;
    return p;
  });
  if (problems.length > 0)
    throw new Error(`topology ${spec.name} cannot be built:\n  ${problems.join('\n  ')}`);
  return { runId, tag, hosts, bridges, links };
}
