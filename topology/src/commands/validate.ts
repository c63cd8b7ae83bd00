// mlfo-topo validate FILE: reads a topology file and prints every problem (file:line:column, field,
// what is allowed), exit 1; or a one-line summary, exit 0.

import { readTopologyFile } from '../../../common/topology-spec/spec-yaml.ts';
import { TopologyError } from '../../../common/topology-spec/topology-error.ts';
import { linksNeedingNetem } from '../../../common/topology-spec/validate.ts';
import { type Command, UsageError } from './command.ts';

export const command: Command = {
  summary: 'check a topology file and print every problem',
  usage: 'mlfo-topo validate FILE',

  async run(args, io) {
    if (args.length !== 1 || args[0]?.startsWith('-')) throw new UsageError('validate: expected one FILE');
    try {
      const { spec, fileName } = readTopologyFile(args[0] as string);
      const netem = linksNeedingNetem(spec);
      io.stdout(
        `${fileName}: valid: ${spec.hosts.length} hosts, ${spec.switches.length} switches, ${spec.links.length} links` +
          `${netem.length === 0 ? '' : `; ${netem.length} link directions need netem (delay/jitter/loss)`}\n`,
      );
      return 0;
    } catch (err) {
      if (!(err instanceof TopologyError)) throw err;
      io.stderr(`${err.message}\n${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}\n`);
      return 1;
    }
  },
};
