// mlfo-topo exec HOST -- CMD [ARGS…]: runs a command inside a host (its namespace on netns, with
// the host's environment on local, `docker exec` on docker), attached to this terminal; exits with
// the command's code.

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { type Command, UsageError } from './command.ts';
import { attachChosen, parse, RUN_USAGE } from './run-target.ts';

export const command: Command = {
  summary: 'run a command inside a host',
  usage: `mlfo-topo exec [--run ID] HOST [--] CMD [ARGS…]\n${RUN_USAGE}`,

  async run(args, io) {
    // Options come before HOST; everything after HOST (or after `--`) is the command, verbatim.
    const own: string[] = [];
    let i = 0;
    while (i < args.length && (args[i] ?? '').startsWith('--') && args[i] !== '--') {
      const a = args[i] as string;
      own.push(a);
      if (!a.includes('=')) own.push(args[i + 1] ?? '');
      i += a.includes('=') ? 1 : 2;
    }
    const host = args[i] !== '--' ? args[i] : undefined;
    let cmd = args.slice(host === undefined ? i : i + 1);
    if (cmd[0] === '--') cmd = cmd.slice(1);
    const { values } = parse('exec', own, {});
    if (host === undefined || cmd.length === 0) throw new UsageError('exec: expected HOST [--] CMD [ARGS…]');
    const net = await attachChosen(values);
    const h = net.status().hosts.find((x) => x.name === host);
    if (!h)
      throw new Error(
        `exec: no host ${host} in run ${net.runId} (hosts: ${net.spec.hosts.map((x) => x.name).join(', ')})`,
      );
    const spec = net.spec.hosts.find((x) => x.name === host);
    const hostEnv = { MLFO_HOST_NAME: host, MLFO_HOST_IP: net.ip(host) };
    const argv = net.terminalCommand
      ? net.terminalCommand(host, cmd, hostEnv, process.stdin.isTTY === true)
      : h.namespace !== ''
        ? ['ip', 'netns', 'exec', h.namespace, ...cmd]
        : cmd;
    const child = spawn(argv[0] as string, argv.slice(1), {
      stdio: 'inherit',
      env: { ...process.env, ...spec?.env, ...hostEnv },
    });
    return new Promise<number>((resolve) => {
      child.on('error', (err) => {
        io.stderr(`exec on ${host}: ${err.message}\n`);
        resolve(127);
      });
      child.on('exit', (code, signal) =>
        resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)),
      );
    });
  },
};
