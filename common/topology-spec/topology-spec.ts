// The topology spec: pure data describing hosts, switches and links (as Mininet's Topo). Nothing
// here touches the OS; an emulation backend turns a validated spec into a running network.
// YAML files and the TypeScript builder both produce this shape.

export const HOST_ROLES = [
  'mlfo-cloud',
  'mlfo-edge',
  'fl-server',
  'fl-client',
  'prometheus',
  'traffic-source',
  'traffic-sink',
  'plain',
] as const;
export type HostRole = (typeof HOST_ROLES)[number];

export interface HostSpec {
  name: string;
  /** IPv4 address with prefix length, e.g. "10.0.1.10/16" */
  ip: string;
  role: HostRole;
  /** CPU limit in cores (e.g. 2, 0.5); none when absent */
  cpus?: number;
  memoryMb?: number;
  env?: Record<string, string>;
  /** docker backend: the host's image (default: the project image, mlfo:latest) */
  image?: string;
  /**
   * docker backend: the container's command, run instead of the image's default (with the project
   * image, instead of the node program of the host's role); argv, not a shell line
   */
  command?: string[];
  /** FL cohort (fl-server: the cohort it serves; fl-client: the campus/cohort group it belongs to) */
  cohort?: number;
  /** name of the virtual instance (cloud / fog / edge group) the host belongs to */
  instance?: string;
  /** for traffic-source: the sink host and the rate */
  traffic?: { to: string; rateMbps: number };
  /** for mlfo-edge: the cloud MLFO host it asks over MoMo */
  parent?: string;
  /** host port the node's main service is published on (e.g. mo.1's :8000 as :8001) */
  publish?: Record<string, number>;
}

export interface SwitchSpec {
  name: string;
}

/** Shaping of one direction of a link. */
export interface LinkShape {
  bandwidthMbps?: number;
  delayMs?: number;
  jitterMs?: number;
  lossPercent?: number;
}

export interface LinkSpec extends LinkShape {
  /** host or switch names */
  a: string;
  b: string;
  /** per-direction overrides: a→b and b→a */
  ab?: LinkShape;
  ba?: LinkShape;
}

/** Fogbed-style virtual instance: a group of hosts behind one switch, with resource totals. */
export interface InstanceSpec {
  name: string;
  kind: 'cloud' | 'fog' | 'edge';
  switch: string;
  cpus?: number;
  memoryMb?: number;
}

export interface TopologySpec {
  name: string;
  hosts: HostSpec[];
  switches: SwitchSpec[];
  links: LinkSpec[];
  instances?: InstanceSpec[];
}
