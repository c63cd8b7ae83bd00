// Links of a netns run, on hosts that are network namespaces: bridges and veth pairs (ends in the
// hosts' namespaces or on the bridges), host addresses and routes, tc shaping on each end's
// egress, and reshaping a running link. All of it works on a host's namespace name only, so a
// backend whose hosts are other kinds of namespaced processes (containers) can reuse it.

import type { LinkChange, ShapeChange } from '../network.ts';
import { mapLimit } from '../../../common/map-limit.ts';
import { batch } from '../sh.ts';
import type { LinkShape } from '../../../common/topology-spec/topology-spec.ts';
import type { LinkEnd, NetworkPlan, PlannedHost, PlannedLink } from './plan.ts';
import { rootLegLines } from './root-access.ts';
import { isShaped, shapeLines } from './shaping.ts';
import type { RootLegRecord } from './state.ts';

/** Creates the bridges and veth pairs (and the root access leg, when the run has one). */
export async function createLinks(plan: NetworkPlan, leg: RootLegRecord | null): Promise<void> {
  await batch(['ip'], [...rootLines(plan), ...(leg ? rootLegLines(leg, plan.runId) : [])]);
}

/** Brings every host's interfaces up, with its address and default route. */
export async function addressHosts(plan: NetworkPlan): Promise<void> {
  await mapLimit(plan.hosts, 8, (h) => batch(['ip', '-n', h.ns], hostLines(h)));
}

/** Shapes both ends of every link as planned (delay/jitter/loss only with netem). */
export async function shapeLinks(plan: NetworkPlan, netem: boolean): Promise<void> {
  const tcRoot: string[] = [];
  const tcNs = new Map<string, string[]>();
  for (const l of plan.links) {
    for (const [end, shape] of [
      [l.a, l.ab],
      [l.b, l.ba],
    ] as const) {
      const lines = shapeLines(end.ifname, shape, netem, false);
      if (end.kind === 'switch') tcRoot.push(...lines);
      else tcNs.set(end.ns, [...(tcNs.get(end.ns) ?? []), ...lines]);
    }
  }
  await batch(['tc'], tcRoot);
  await mapLimit([...tcNs], 8, ([ns, lines]) => batch(['tc', '-n', ns], lines));
}

/** The shapes a link gets from a setLink change, per direction; `forward` when a is the link's a end. */
export function changedShapes(
  link: PlannedLink,
  change: LinkChange,
  forward: boolean,
): { ab: LinkShape; ba: LinkShape } {
  return {
    ab: applyChange(link.ab, change, forward ? change.ab : change.ba),
    ba: applyChange(link.ba, change, forward ? change.ba : change.ab),
  };
}

/** Re-shapes both ends of a running link from its current shapes to ab/ba. */
export async function reshapeLink(
  link: PlannedLink,
  ab: LinkShape,
  ba: LinkShape,
  netem: boolean,
): Promise<void> {
  for (const [end, before, after] of [
    [link.a, link.ab, ab],
    [link.b, link.ba, ba],
  ] as const) {
    const lines = shapeLines(end.ifname, after, netem, isShaped(before, netem));
    await batch(end.kind === 'host' ? ['tc', '-n', end.ns] : ['tc'], lines);
  }
}

function rootLines(plan: NetworkPlan): string[] {
  const lines: string[] = [];
  for (const [sw, br] of plan.bridges) {
    lines.push(`link add name ${br} type bridge`, `link set dev ${br} alias mlfo:${plan.runId}:switch:${sw}`);
    lines.push(`link set dev ${br} up`);
  }
  const place = (e: LinkEnd) => (e.kind === 'host' ? `name ${e.ifname} netns ${e.ns}` : `name ${e.ifname}`);
  for (const l of plan.links) {
    lines.push(`link add ${place(l.a)} type veth peer ${place(l.b)}`);
    for (const e of [l.a, l.b]) {
      if (e.kind !== 'switch') continue;
      lines.push(`link set dev ${e.ifname} alias mlfo:${plan.runId}:link${l.index}:${e.node}`);
      lines.push(`link set dev ${e.ifname} master ${e.bridge}`, `link set dev ${e.ifname} up`);
    }
  }
  return lines;
}

function hostLines(h: PlannedHost): string[] {
  const lines = ['link set dev lo up'];
  for (const i of h.interfaces) lines.push(`link set dev ${i} up`);
  const first = h.interfaces[0];
  if (first !== undefined) lines.push(`addr add ${h.ip} dev ${first}`, `route add default dev ${first}`);
  return lines;
}

function applyChange(shape: LinkShape, ...changes: (ShapeChange | undefined)[]): LinkShape {
  const out: LinkShape = { ...shape };
  for (const c of changes) {
    if (!c) continue;
    for (const k of ['bandwidthMbps', 'delayMs', 'jitterMs', 'lossPercent'] as const) {
      const v = c[k];
      if (v === null) delete out[k];
      else if (v !== undefined) out[k] = v;
    }
  }
  return out;
}
