// mlfo-topo: the topology CLI. This file only dispatches: each subcommand lives in its own module
// under commands/ (exporting `command: Command`, see commands/command.ts) and is loaded when used,
// so a command that needs root-only or heavy modules costs nothing to the others. To add one
// (up, down, status, link, meter, limit, exec, pingall, iperf, clean, prometheus), write
// commands/<name>.ts and add a row to SUBCOMMANDS. Run-level commands share run-target.ts.

import type { CliIo, Command } from './commands/command.ts';
import { UsageError } from './commands/command.ts';

export const SUBCOMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  generate: () => import('./commands/generate.ts'),
  validate: () => import('./commands/validate.ts'),
  up: () => import('./commands/up.ts'),
  down: () => import('./commands/down.ts'),
  status: () => import('./commands/status.ts'),
  link: () => import('./commands/link.ts'),
  meter: () => import('./commands/meter.ts'),
  limit: () => import('./commands/limit.ts'),
  exec: () => import('./commands/exec.ts'),
  pingall: () => import('./commands/pingall.ts'),
  iperf: () => import('./commands/iperf.ts'),
  clean: () => import('./commands/clean.ts'),
  prometheus: () => import('./commands/prometheus.ts'),
};

const processIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

/** Runs `mlfo-topo <argv>`; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function main(argv: string[] = process.argv.slice(2), io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic !== undefined && SUBCOMMANDS[topic] !== undefined) {
      io.stdout(`${(await SUBCOMMANDS[topic]()).command.usage}\n`);
      return 0;
    }
    io.stdout(await overview());
    return name === undefined ? 2 : 0;
  }
  const load = SUBCOMMANDS[name];
  if (load === undefined) {
    io.stderr(
      `mlfo-topo: unknown command "${name}"; allowed: ${Object.keys(SUBCOMMANDS).join(', ')}, help\n`,
    );
    return 2;
  }
  const { command } = await load();
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`mlfo-topo ${err.message}\nusage:\n${command.usage}\n`);
      return 2;
    }
    if (err instanceof Error && err.name === 'TopologyError') {
      io.stderr(`${err.message}\n`);
      return 1;
    }
    // Operational failures (no such run, a host unknown, a tc command refused) are reported as
    // one message; MLFO_DEBUG=1 shows the stack.
    if (err instanceof Error && !process.env.MLFO_DEBUG) {
      io.stderr(`mlfo-topo ${name}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function overview(): Promise<string> {
  const lines = ['usage: mlfo-topo <command> [options]   (mlfo-topo help <command> for its options)', ''];
  for (const [name, load] of Object.entries(SUBCOMMANDS)) {
    lines.push(`  ${name.padEnd(12)}${(await load()).command.summary}`);
  }
  return `${lines.join('\n')}\n`;
}
