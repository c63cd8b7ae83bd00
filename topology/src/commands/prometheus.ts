// mlfo-topo prometheus FILE [--scrape-interval S] [-o FILE]: writes the prometheus.yml that scrapes
// every service of a topology (see monitoring/prometheus-config.ts), to stdout by default.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  DEFAULT_SCRAPE_INTERVAL_S,
  prometheusConfig,
  scrapeTargets,
} from '../monitoring/prometheus-config.ts';
import { readTopologyFile } from '../../../common/topology-spec/spec-yaml.ts';
import { TopologyError } from '../../../common/topology-spec/topology-error.ts';
import { type Command, UsageError } from './command.ts';

const OPTIONS = {
  'scrape-interval': { type: 'string' },
  output: { type: 'string', short: 'o' },
} as const;

export const command: Command = {
  summary: "write the Prometheus config scraping every service's /metrics in a topology",
  usage: `mlfo-topo prometheus FILE [--scrape-interval S] [-o FILE]
  FILE                   topology YAML (mlfo-topo generate …)
  --scrape-interval S    seconds between scrapes, whole 1–3600 (default ${DEFAULT_SCRAPE_INTERVAL_S}, as in the seed)
  -o, --output FILE      write there instead of stdout`,

  async run(args, io) {
    let values: { 'scrape-interval'?: string; output?: string };
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true }));
    } catch (err) {
      throw new UsageError(`prometheus: ${(err as Error).message}`);
    }
    if (positionals.length !== 1) {
      throw new UsageError(`prometheus: expected one topology FILE, got ${positionals.length}`);
    }
    let scrapeIntervalS: number | undefined;
    const text = values['scrape-interval'];
    if (text !== undefined) {
      scrapeIntervalS = Number(text);
      if (!/^\d+$/.test(text) || scrapeIntervalS < 1 || scrapeIntervalS > 3600) {
        throw new UsageError(
          `prometheus: --scrape-interval ${JSON.stringify(text)}; allowed: whole seconds 1–3600`,
        );
      }
    }
    let spec: ReturnType<typeof readTopologyFile>['spec'];
    try {
      spec = readTopologyFile(positionals[0] as string).spec;
    } catch (err) {
      if (!(err instanceof TopologyError)) throw err;
      io.stderr(`${err.message}\n${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}\n`);
      return 1;
    }
    const yaml = prometheusConfig(spec, scrapeIntervalS === undefined ? {} : { scrapeIntervalS });
    const output = values.output;
    if (output === undefined || output === '-') io.stdout(yaml);
    else {
      writeFileSync(output, yaml);
      io.stderr(`wrote ${output}: ${scrapeTargets(spec).length} targets\n`);
    }
    return 0;
  },
};
