// The seed system's topology (its Containernet topo.py; DESIGN.md, "The seed topology"), with
// parameters to scale it down or change its link figures. Layout, in spec order:
//
//   aggsw10 ── prom.0 10.0.0.100, cloud.0 10.0.0.1, appserv.0 10.0.0.2, fed.N 10.0.0.(100+N)
//      │ 12 ms
//   satsw11
//      │ 12 ms
//   swEdge12 ── mo.1 10.0.1.1 (edge MLFO, :8000 published as :8001), app.1 10.0.1.2 (20 Mbit/s → appserv.0)
//      ├── swCampus1 ── fc.10 … fc.19   (10.0.1.10 …)
//      ⋮
//      └── swCampus5 ── fc.50 … fc.59
//
// Every link 500 Mbit/s; every FL server and client 2 CPUs.
//
// Addressing: the seed gave Mininet bare addresses (10.0.0.1, 10.0.1.10) under its default
// ipBase 10.0.0.0/8, and its ONOS controller forwarded everything as one L2 network. Here the
// switches are plain bridges forming one segment, so all hosts need one subnet containing both
// 10.0.0.x and 10.0.1.x: 10.0.0.0/16 by default (`prefixLen`, 8–23; 8 is what Mininet used).

import { TopologyBuilder } from '../spec/builder.ts';
import { TopologyError } from '../../../common/topology-spec/topology-error.ts';
import type { TopologySpec } from '../../../common/topology-spec/topology-spec.ts';

export interface SeedOptions {
  /** FL servers fed.1 … fed.N at 10.0.0.(100+N); default 3 (the seed experiment's cohorts [30,10,10]) */
  cohorts?: number;
  /** campus switches swCampus1 … ; default 5, at most 9 (client names fc.<campus><i>) */
  campuses?: number;
  /** clients fc.<campus><i> per campus at 10.0.1.<campus><i>; default 10, at most 10 */
  clientsPerCampus?: number;
  /**
   * total clients, filling campuses in order (clientsPerCampus each, the last one partly), so the
   * addresses stay contiguous for sendintent's ipstart arithmetic; overrides `campuses`
   */
  clients?: number;
  /** every link; default 500 */
  bandwidthMbps?: number;
  /** satsw11–aggsw10; default 12 */
  satDelayMs?: number;
  /** swEdge12–satsw11; default 12 */
  edgeDelayMs?: number;
  /** false: no delay on any link (for kernels without netem); default true */
  delays?: boolean;
  /** CPU limit of every FL server and client; default 2 */
  flCpus?: number;
  /** app.1 → appserv.0 background traffic; default 20 */
  trafficMbps?: number;
  /** the port on this machine where mo.1's :8000 is published; default 8001 */
  edgePublishPort?: number;
  /** default 16 */
  prefixLen?: number;
  /** cohort sizes in client address order (the sendintent ipstart order), e.g. [30, 10, 10]; sets clients' cohort */
  cohortSizes?: number[];
  /** default "seed" */
  name?: string;
  /**
   * the first two octets of every address, "A.B" (default "10.0", the seed's): another base lets
   * two runs of the seed topology share one machine (their subnets must not overlap)
   */
  baseNet?: string;
}

export const SEED_DEFAULTS = {
  cohorts: 3,
  campuses: 5,
  clientsPerCampus: 10,
  bandwidthMbps: 500,
  satDelayMs: 12,
  edgeDelayMs: 12,
  delays: true,
  flCpus: 2,
  trafficMbps: 20,
  edgePublishPort: 8001,
  prefixLen: 16,
  name: 'seed',
} as const;

export function seedTopology(opts: SeedOptions = {}): TopologySpec {
  const o = { ...SEED_DEFAULTS, ...withoutUndefined(opts) };
  const problems: Array<{ path: string; message: string }> = [];
  const intIn = (key: keyof SeedOptions, v: number, min: number, max: number, why: string) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      problems.push({ path: key, message: `got ${v}; allowed: an integer ${min}–${max}${why}` });
    }
  };
  intIn('cohorts', o.cohorts, 1, 154, ' (fed.N sits at 10.0.0.(100+N))');
  intIn('campuses', o.campuses, 1, 9, ' (clients are fc.<campus><i> at 10.0.1.<campus><i>)');
  intIn('clientsPerCampus', o.clientsPerCampus, 1, 10, ' (clients are fc.<campus><i>, i one digit)');
  intIn('prefixLen', o.prefixLen, 8, 23, ' (one subnet must hold 10.0.0.x and 10.0.1.x)');
  if (opts.clients !== undefined) {
    intIn(
      'clients',
      opts.clients,
      1,
      9 * o.clientsPerCampus,
      ` (at most 9 campuses of ${o.clientsPerCampus})`,
    );
    o.campuses = Math.ceil(opts.clients / o.clientsPerCampus);
  }
  const clients = opts.clients ?? o.campuses * o.clientsPerCampus;
  const sizes = opts.cohortSizes;
  if (sizes !== undefined) {
    const sum = sizes.reduce((a, b) => a + b, 0);
    if (sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s < 1) || sum > clients) {
      problems.push({
        path: 'cohortSizes',
        message: `got [${sizes.join(', ')}]; allowed: positive integers adding up to at most the ${clients} clients`,
      });
    }
  }
  const base = opts.baseNet ?? '10.0';
  const octets = /^(\d{1,3})\.(\d{1,3})$/.exec(base);
  if (
    !octets ||
    Number(octets[1]) < 1 ||
    Number(octets[1]) > 223 ||
    Number(octets[1]) === 127 ||
    Number(octets[2]) > 255
  ) {
    problems.push({
      path: 'baseNet',
      message: `got ${JSON.stringify(base)}; allowed: "A.B" with A 1–223 (not 127) and B 0–255, e.g. "10.0"`,
    });
  }
  if (problems.length > 0) throw new TopologyError(problems, 'seed generator');

  const ip = (a: string) => `${a}/${o.prefixLen}`;
  const bw = { bandwidthMbps: o.bandwidthMbps };
  const b = new TopologyBuilder(o.name);
  b.addSwitch('aggsw10').addSwitch('satsw11').addSwitch('swEdge12');
  for (let s = 1; s <= o.campuses; s++) b.addSwitch(`swCampus${s}`);

  b.addHost('prom.0', { ip: ip(`${base}.0.100`), role: 'prometheus' });
  b.addHost('cloud.0', { ip: ip(`${base}.0.1`), role: 'mlfo-cloud' });
  b.addHost('appserv.0', { ip: ip(`${base}.0.2`), role: 'traffic-sink' });
  for (const h of ['prom.0', 'cloud.0', 'appserv.0']) b.addLink(h, 'aggsw10', bw);
  for (let n = 1; n <= o.cohorts; n++) {
    b.addHost(`fed.${n}`, { ip: ip(`${base}.0.${100 + n}`), role: 'fl-server', cohort: n, cpus: o.flCpus });
    b.addLink(`fed.${n}`, 'aggsw10', bw);
  }
  b.addLink('satsw11', 'aggsw10', o.delays ? { ...bw, delayMs: o.satDelayMs } : bw);
  b.addLink('swEdge12', 'satsw11', o.delays ? { ...bw, delayMs: o.edgeDelayMs } : bw);
  b.addHost('mo.1', {
    ip: ip(`${base}.1.1`),
    role: 'mlfo-edge',
    parent: 'cloud.0',
    publish: { '8000': o.edgePublishPort },
  });
  b.addHost('app.1', {
    ip: ip(`${base}.1.2`),
    role: 'traffic-source',
    traffic: { to: 'appserv.0', rateMbps: o.trafficMbps },
  });
  b.addLink('mo.1', 'swEdge12', bw).addLink('app.1', 'swEdge12', bw);
  let k = 0;
  for (let s = 1; s <= o.campuses; s++) {
    b.addLink(`swCampus${s}`, 'swEdge12', bw);
    for (let i = 0; i < o.clientsPerCampus && k < clients; i++) {
      const name = `fc.${s}${i}`;
      const cohort = cohortOf(k++, sizes);
      b.addHost(name, { ip: ip(`${base}.1.${s}${i}`), role: 'fl-client', cpus: o.flCpus, cohort });
      b.addLink(name, `swCampus${s}`, bw);
    }
  }
  return b.build();
}

/** The cohort (1-based) of the k-th client when cohorts take clients in order; undefined past the last. */
function cohortOf(k: number, sizes: number[] | undefined): number | undefined {
  if (sizes === undefined) return undefined;
  let end = 0;
  for (let c = 0; c < sizes.length; c++) {
    end += sizes[c] ?? 0;
    if (k < end) return c + 1;
  }
  return undefined;
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
