// The checks of a netns start that need no resources, run first so that a refused start creates
// nothing: sch_netem for links with delay/jitter/loss, cgroup controllers for limited hosts, no
// leftovers of the same run id, the root access leg's routes, which ports can be published.

import type { LinkShape, TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import { type CgroupLayout, detectCgroups } from './cgroups.ts';
import { type NetworkPlan, type PlannedLink, linkLabel, namespacePrefix, needsNetem } from './plan.ts';
import { type PublishPair, publishPlan } from './publish.ts';
import { checkRoutes, planRootAccess, type RootAccessPlan, rootRoutes } from './root-access.ts';
import { netemArgs, probeNetem } from './shaping.ts';
import type { StartOptions } from './start-options.ts';
import { type NamespaceBackend, readState } from './state.ts';
import { listNamespaces } from './teardown.ts';

export class NetemMissingError extends Error {
  constructor(
    readonly links: string[],
    reason: string,
  ) {
    super(
      `this kernel has no sch_netem (netem qdisc: ${reason}), so delay/jitter/loss cannot be emulated; ` +
        `${links.length} link(s) ask for them: ${links.join(', ')}. Nothing was created. ` +
        'Load sch_netem, remove delayMs/jitterMs/lossPercent from those links, or run with ' +
        '--links-without-delay (linksWithoutDelay: true) to shape bandwidth only.',
    );
    this.name = 'NetemMissingError';
  }
}

export interface StartChecks {
  /** links that ask for delay/jitter/loss */
  withDelay: PlannedLink[];
  netem: boolean;
  layout: CgroupLayout | null;
  access: RootAccessPlan;
  pairs: PublishPair[];
  publishWarnings: string[];
}

export async function checkBeforeStart(
  spec: TopologySpec,
  plan: NetworkPlan,
  opts: StartOptions,
  backend: NamespaceBackend = 'netns',
): Promise<StartChecks> {
  const withDelay = plan.links.filter((l) => needsNetem(l.ab) || needsNetem(l.ba));
  let netem = false;
  if (withDelay.length > 0) {
    const probe =
      opts.netemAvailable === undefined
        ? await probeNetem()
        : { available: opts.netemAvailable, reason: opts.netemAvailable ? 'forced on' : 'forced off (test)' };
    netem = probe.available;
    if (!netem && !opts.linksWithoutDelay)
      throw new NetemMissingError(withDelay.map(describeDelay), probe.reason);
  }
  // docker limits hosts through the engine (its own cgroups), netns through the run's cgroups
  const layout = backend === 'netns' ? detectCgroups() : null;
  const limited = plan.hosts.filter((h) => h.cpus !== undefined || h.memoryMb !== undefined);
  if (backend === 'netns' && !layout && limited.length > 0) {
    throw new Error(
      `no cgroup cpu/memory controllers mounted, cannot limit hosts ${limited.map((h) => h.name).join(', ')}`,
    );
  }
  const inUse = listNamespaces().filter((n) => n.startsWith(namespacePrefix(opts.runId)));
  const previous = readState(opts.runDir, backend);
  if (inUse.length > 0 || (previous && previous.phase !== 'stopped' && previous.phase !== 'failed')) {
    throw new Error(
      `run ${opts.runId} already has resources (${inUse.length} namespaces; state ${previous?.phase ?? 'none'} in ${opts.runDir}); ` +
        `stop it or clean it (cleanRun / mlfo-topo clean --run ${opts.runId}) first`,
    );
  }
  const access = planRootAccess(spec, plan, opts.rootAccess !== false);
  if (access.leg && access.subnet) checkRoutes(access.subnet, spec.hosts[0]?.name ?? '?', await rootRoutes());
  const { pairs, warnings: publishWarnings } = publishPlan(spec, access.leg !== null, opts.publish !== false);
  return { withDelay, netem, layout, access, pairs, publishWarnings };
}

/** "a–b (delay 10ms …)", for the errors and warnings about links without netem */
export function describeDelay(l: PlannedLink): string {
  const dir = (s: LinkShape) => netemArgs(s) || 'none';
  const ab = dir(l.ab);
  const ba = dir(l.ba);
  return `${linkLabel(l.a.node, l.b.node)} (${ab === ba ? ab : `a→b ${ab}, b→a ${ba}`})`;
}
