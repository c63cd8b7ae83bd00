// The TypeScript way to write a topology, as Mininet's Topo.addHost/addSwitch/addLink: it only
// collects data. build() validates and returns exactly the TopologySpec the equivalent YAML file
// parses to (absent options stay absent, never `undefined` fields), so the two are interchangeable.
//
//   new TopologyBuilder('demo')
//     .addSwitch('s1')
//     .addHost('h1', { ip: '10.0.0.1/24', role: 'plain' })
//     .addLink('h1', 's1', { bandwidthMbps: 100, delayMs: 5 })
//     .build();

import type {
  HostSpec,
  InstanceSpec,
  LinkSpec,
  TopologySpec,
} from '../../../common/topology-spec/topology-spec.ts';
import { assertValid } from '../../../common/topology-spec/validate.ts';

export type HostOptions = Omit<HostSpec, 'name'>;
export type LinkOptions = Omit<LinkSpec, 'a' | 'b'>;
export type InstanceOptions = Omit<InstanceSpec, 'name'>;

export class TopologyBuilder {
  private readonly hosts: HostSpec[] = [];
  private readonly switches: TopologySpec['switches'] = [];
  private readonly links: LinkSpec[] = [];
  private instances: InstanceSpec[] | undefined;

  constructor(readonly name: string) {}

  addHost(name: string, opts: HostOptions): this {
    this.hosts.push(compact({ name, ...opts }));
    return this;
  }

  addSwitch(name: string): this {
    this.switches.push({ name });
    return this;
  }

  addLink(a: string, b: string, opts: LinkOptions = {}): this {
    this.links.push(compact({ a, b, ...opts }));
    return this;
  }

  addInstance(name: string, opts: InstanceOptions): this {
    this.instances ??= [];
    this.instances.push(compact({ name, ...opts }));
    return this;
  }

  /** The spec without validation (for tests of the validator, or to validate later). */
  buildUnchecked(): TopologySpec {
    const spec: TopologySpec = {
      name: this.name,
      hosts: structuredClone(this.hosts),
      switches: structuredClone(this.switches),
      links: structuredClone(this.links),
    };
    if (this.instances !== undefined) spec.instances = structuredClone(this.instances);
    return spec;
  }

  /** The spec; throws a TopologyError listing every problem. */
  build(): TopologySpec {
    return assertValid(this.buildUnchecked());
  }
}

/** Drops undefined fields, one level into nested option objects (traffic, ab, ba, env, publish). */
function compact<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    out[k] =
      v !== null && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined))
        : v;
  }
  return out as T;
}
