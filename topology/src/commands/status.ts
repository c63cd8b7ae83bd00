// mlfo-topo status [--run ID] [--json]: a run's hosts (address, role, limits, processes, health of
// their node programs), switches, links with their current shaping, published ports and warnings.

import type { EmulatedNetwork, NetworkStatus } from '../network.ts';
import type { Command } from './command.ts';
import { describe } from './link.ts';
import { attachChosen, parse, RUN_USAGE } from './run-target.ts';

export const command: Command = {
  summary: "a run's hosts, processes, health, links",
  usage: `mlfo-topo status [--json] [--no-health]\n${RUN_USAGE}`,

  async run(args, io) {
    const { values } = parse('status', args, { json: { type: 'boolean' }, 'no-health': { type: 'boolean' } });
    const net = await attachChosen(values);
    const st = net.status();
    const health = values['no-health'] === true ? new Map<string, string>() : await probeHealth(net);
    if (values.json === true) {
      io.stdout(`${JSON.stringify({ ...st, health: Object.fromEntries(health) }, null, 2)}\n`);
      return 0;
    }
    io.stdout(render(st, health));
    return 0;
  },
};

function render(st: NetworkStatus, health: Map<string, string>): string {
  const lines = [
    `run ${st.runId} · ${st.backend} · ${st.phase} · netem ${st.netem ? 'yes' : 'no'} · cgroups ${st.cgroups}`,
    '',
    `${'host'.padEnd(12)}${'role'.padEnd(16)}${'address'.padEnd(18)}${'limits'.padEnd(18)}${'processes'.padEnd(11)}health`,
  ];
  const containers = st.hosts.some((h) => h.container);
  if (containers) lines[2] += '    container';
  for (const h of st.hosts) {
    const limits = [
      h.limits.cpus !== undefined ? `${h.limits.cpus} cpu` : '',
      h.limits.memoryMb !== undefined ? `${h.limits.memoryMb} MiB` : '',
    ]
      .filter(Boolean)
      .join(', ');
    const alive = h.processes.filter((p) => p.alive).length;
    lines.push(
      `${h.name.padEnd(12)}${h.role.padEnd(16)}${h.ip.padEnd(18)}${(limits || '-').padEnd(18)}` +
        `${`${alive}/${h.processes.length}`.padEnd(11)}${health.get(h.name) ?? '-'}` +
        (h.container
          ? `    ${h.container.state}${h.container.exitCode !== undefined ? ` (exit ${h.container.exitCode})` : ''}` +
            `${h.container.health ? `, ${h.container.health}` : ''} ${h.container.image}`
          : ''),
    );
  }
  lines.push(
    '',
    `${st.switches.length} switches: ${st.switches.map((s) => s.name).join(', ')}`,
    `${st.links.length} links:`,
  );
  for (const l of st.links) {
    const ab = describe(l.ab);
    const ba = describe(l.ba);
    const flags = [!l.shaped ? 'not shaped' : '', !l.delayApplied ? 'delay not applied' : ''].filter(Boolean);
    lines.push(
      `  ${`${l.a} — ${l.b}`.padEnd(26)} ${ab === ba ? ab : `→ ${ab}; ← ${ba}`}${flags.length ? `  (${flags.join(', ')})` : ''}`,
    );
  }
  for (const p of st.published) lines.push(`published 127.0.0.1:${p.hostPort} → ${p.host}:${p.port}`);
  for (const w of st.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

/** host → "ok mlfo, ok redis" / "DOWN flower-adapter (…)" from the run's node-program records. */
async function probeHealth(net: EmulatedNetwork): Promise<Map<string, string>> {
  const { nodeProgramsHealth } = await import('../nodes/index.ts');
  const out = new Map<string, string>();
  for (const h of await nodeProgramsHealth(net.runDir)) {
    const text = h.ok ? `ok ${h.program}` : `DOWN ${h.program} (${h.detail})`;
    out.set(h.host, out.has(h.host) ? `${out.get(h.host)}, ${text}` : text);
  }
  return out;
}
