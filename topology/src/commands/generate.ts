// mlfo-topo generate seed|linear|star [options] [-o FILE]: writes a generated topology as YAML
// (stdout by default).

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { linearTopology } from '../generators/linear.ts';
import { SEED_DEFAULTS, seedTopology } from '../generators/seed.ts';
import { starTopology } from '../generators/star.ts';
import { toYaml } from '../../../common/topology-spec/spec-yaml.ts';
import type { TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import { type Command, UsageError } from './command.ts';

const d = SEED_DEFAULTS;
export const command: Command = {
  summary: 'write a generated topology (seed, linear, star) as YAML',
  usage: `mlfo-topo generate seed [options] [-o FILE]
  --cohorts N               FL servers fed.1…fed.N (default ${d.cohorts})
  --campuses N              campus switches, 1–9 (default ${d.campuses})
  --clients-per-campus N    clients per campus, 1–10 (default ${d.clientsPerCampus})
  --clients N               total clients, filling campuses in order (overrides --campuses)
  --cohort-sizes A,B,…      give clients a cohort in address order, e.g. 30,10,10
  --bandwidth-mbps X        every link (default ${d.bandwidthMbps})
  --sat-delay-ms X          satsw11–aggsw10 (default ${d.satDelayMs})
  --edge-delay-ms X         swEdge12–satsw11 (default ${d.edgeDelayMs})
  --no-delays               no delay on any link (this kernel has no netem)
  --fl-cpus X               CPU limit of FL servers and clients (default ${d.flCpus})
  --traffic-mbps X          app.1 → appserv.0 rate (default ${d.trafficMbps})
  --edge-publish-port P     where mo.1's :8000 is published (default ${d.edgePublishPort})
  --prefix-len N            subnet of all hosts, 8–23 (default ${d.prefixLen})
  --name NAME               topology name (default ${d.name})
  --base-net A.B            first two octets of every address (default 10.0), to run two side by side
mlfo-topo generate linear|star N [--bandwidth-mbps X] [--delay-ms X] [--fl] [--name NAME] [-o FILE]
  N hosts h1…hN; linear: one switch per host in a chain; star: all on switch s1;
  --fl makes h1 an fl-server and the others fl-clients`,

  async run(args, io) {
    const [kind, ...rest] = args;
    let spec: TopologySpec;
    let output: string | undefined;
    if (kind === 'seed') {
      const { values } = parse(rest, {
        cohorts: { type: 'string' },
        campuses: { type: 'string' },
        'clients-per-campus': { type: 'string' },
        clients: { type: 'string' },
        'cohort-sizes': { type: 'string' },
        'bandwidth-mbps': { type: 'string' },
        'sat-delay-ms': { type: 'string' },
        'edge-delay-ms': { type: 'string' },
        'no-delays': { type: 'boolean' },
        'fl-cpus': { type: 'string' },
        'traffic-mbps': { type: 'string' },
        'edge-publish-port': { type: 'string' },
        'prefix-len': { type: 'string' },
        name: { type: 'string' },
        'base-net': { type: 'string' },
        output: { type: 'string', short: 'o' },
      });
      output = values.output as string | undefined;
      const n = (k: string) => num(values[k] as string | undefined, k);
      spec = seedTopology({
        cohorts: n('cohorts'),
        campuses: n('campuses'),
        clientsPerCampus: n('clients-per-campus'),
        clients: n('clients'),
        cohortSizes:
          values['cohort-sizes'] === undefined
            ? undefined
            : String(values['cohort-sizes'])
                .split(',')
                .map((s) => num(s.trim(), 'cohort-sizes') ?? Number.NaN),
        bandwidthMbps: n('bandwidth-mbps'),
        satDelayMs: n('sat-delay-ms'),
        edgeDelayMs: n('edge-delay-ms'),
        delays: values['no-delays'] === true ? false : undefined,
        flCpus: n('fl-cpus'),
        trafficMbps: n('traffic-mbps'),
        edgePublishPort: n('edge-publish-port'),
        prefixLen: n('prefix-len'),
        name: values.name as string | undefined,
        baseNet: values['base-net'] as string | undefined,
      });
    } else if (kind === 'linear' || kind === 'star') {
      const { values, positionals } = parse(
        rest,
        {
          'bandwidth-mbps': { type: 'string' },
          'delay-ms': { type: 'string' },
          fl: { type: 'boolean' },
          name: { type: 'string' },
          output: { type: 'string', short: 'o' },
        },
        true,
      );
      if (positionals.length !== 1) throw new UsageError(`generate ${kind}: expected one host count N`);
      const count = num(positionals[0], 'N') as number;
      output = values.output as string | undefined;
      const link: { bandwidthMbps?: number; delayMs?: number } = {};
      const bwv = num(values['bandwidth-mbps'] as string | undefined, 'bandwidth-mbps');
      const dv = num(values['delay-ms'] as string | undefined, 'delay-ms');
      if (bwv !== undefined) link.bandwidthMbps = bwv;
      if (dv !== undefined) link.delayMs = dv;
      const opts = {
        link,
        fl: values.fl === true,
        ...(values.name === undefined ? {} : { name: String(values.name) }),
      };
      spec = kind === 'linear' ? linearTopology(count, opts) : starTopology(count, opts);
    } else {
      throw new UsageError(
        `generate: ${kind === undefined ? 'missing the generator' : `unknown generator "${kind}"`}; allowed: seed, linear, star`,
      );
    }
    const yaml = toYaml(spec);
    if (output === undefined || output === '-') io.stdout(yaml);
    else {
      writeFileSync(output, yaml);
      io.stderr(
        `wrote ${output}: ${spec.hosts.length} hosts, ${spec.switches.length} switches, ${spec.links.length} links\n`,
      );
    }
    return 0;
  },
};

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

function parse(
  args: string[],
  options: Options,
  allowPositionals = false,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (err) {
    throw new UsageError(`generate: ${(err as Error).message}`);
  }
}

function num(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) {
    throw new UsageError(`generate: --${option} ${JSON.stringify(text)}; allowed: a number`);
  }
  return v;
}
