// mlfo-topo meter --cohort N --up X --down Y: caps a cohort's uplink (clients → FL server) and
// downlink (FL server → clients), as the seed's ONOS meter did, by shaping the FL server's link to
// its switch in each direction. --clear restores the link's figures from the spec.

import { type Command, UsageError } from './command.ts';
import { describe } from './link.ts';
import { attachChosen, numberOption, parse, RUN_USAGE } from './run-target.ts';

export const command: Command = {
  summary: "cap a cohort's uplink and downlink (the seed's meter)",
  usage: `mlfo-topo meter --cohort N (--up MBPS --down MBPS | --clear)
  the cohort's FL server is the fl-server host with cohort N\n${RUN_USAGE}`,

  async run(args, io) {
    const { values, positionals } = parse('meter', args, {
      cohort: { type: 'string' },
      up: { type: 'string' },
      down: { type: 'string' },
      clear: { type: 'boolean' },
    });
    if (positionals.length > 0) throw new UsageError(`meter: unexpected ${positionals.join(' ')}`);
    const cohort = numberOption(values, 'cohort', { min: 1, integer: true });
    if (cohort === undefined || cohort === null) throw new UsageError('meter: --cohort N is required');
    const up = numberOption(values, 'up', { min: 0.001, max: 100_000 });
    const down = numberOption(values, 'down', { min: 0.001, max: 100_000 });
    const clear = values.clear === true;
    if (clear ? up !== undefined || down !== undefined : up === undefined && down === undefined) {
      throw new UsageError('meter: give --up and/or --down, or --clear alone');
    }
    const net = await attachChosen(values);
    const servers = net.spec.hosts.filter((h) => h.role === 'fl-server');
    const server = servers.find((h) => h.cohort === cohort);
    if (!server) {
      throw new Error(
        `meter: no fl-server with cohort ${cohort}; cohorts here: ${servers.map((h) => `${h.cohort ?? '-'} (${h.name})`).join(', ') || 'none'}`,
      );
    }
    const switches = new Set(net.spec.switches.map((s) => s.name));
    const link = net.spec.links.find(
      (l) => (l.a === server.name && switches.has(l.b)) || (l.b === server.name && switches.has(l.a)),
    );
    if (!link) throw new Error(`meter: ${server.name} has no link to a switch`);
    const sw = link.a === server.name ? link.b : link.a;
    // setLink(server, sw): ab = server → switch (the cohort's downlink), ba = switch → server (uplink)
    if (clear) {
      const specAb = link.a === server.name ? link.ab : link.ba;
      const specBa = link.a === server.name ? link.ba : link.ab;
      await net.setLink(server.name, sw, {
        ab: { bandwidthMbps: specAb?.bandwidthMbps ?? link.bandwidthMbps ?? null },
        ba: { bandwidthMbps: specBa?.bandwidthMbps ?? link.bandwidthMbps ?? null },
      });
    } else {
      await net.setLink(server.name, sw, {
        ...(down !== undefined && down !== null ? { ab: { bandwidthMbps: down } } : {}),
        ...(up !== undefined && up !== null ? { ba: { bandwidthMbps: up } } : {}),
      });
    }
    const now = net
      .status()
      .links.find((l) => (l.a === server.name && l.b === sw) || (l.b === server.name && l.a === sw));
    if (now) {
      const [downShape, upShape] = now.a === server.name ? [now.ab, now.ba] : [now.ba, now.ab];
      io.stdout(
        `cohort ${cohort} (${server.name} ↔ ${sw}): uplink ${describe(upShape)}, downlink ${describe(downShape)}\n`,
      );
    }
    return 0;
  },
};
