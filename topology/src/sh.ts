// Runs OS commands for the emulation backends (netns and local). Every command goes through
// execFile (no shell); a failure throws a CommandError carrying the command line, exit code and
// stderr, so a caller never carries on with a half-configured network (unlike Mininet, which logs
// and continues). `batch` feeds many `ip`/`tc` commands to one process (`ip -batch -`), which is
// what makes bring-up of a 60-host topology take well under a second of process spawning.

import { execFile, spawn } from 'node:child_process';
import type { RunResult } from './network.ts';

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly stdout = '',
  ) {
    super(
      `command failed (exit ${exitCode ?? 'signal'}): ${command}${stderr.trim() ? `\n${stderr.trim()}` : ''}`,
    );
    this.name = 'CommandError';
  }
}

/** Quotes an argument for display only (commands are never run through a shell). */
function displayArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

export function commandLine(argv: readonly string[]): string {
  return argv.map(displayArg).join(' ');
}

export interface RunOptions {
  /** text written to the command's stdin */
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs argv[0] with argv[1..]; resolves with its output, rejects with CommandError. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('run: empty command'));
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof err.code === 'number' ? err.code : null;
          const why = err.killed
            ? `${stderr}\n(killed after ${opts.timeoutMs ?? 60_000} ms)`
            : stderr || err.message;
          reject(new CommandError(commandLine(argv), code, why, stdout));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/**
 * Runs many commands through one `ip -batch -` / `tc -batch -` process. `tool` is the command
 * prefix, e.g. ['ip'], ['ip', '-n', 'ns1'], ['tc', '-n', 'ns1']. With `force`, the tool keeps
 * going past failing lines (its exit status is then ignored; the caller verifies the outcome).
 */
export async function batch(
  tool: readonly string[],
  lines: readonly string[],
  force = false,
): Promise<RunResult> {
  if (lines.length === 0) return { stdout: '', stderr: '' };
  const argv = [...tool, ...(force ? ['-force'] : []), '-batch', '-'];
  try {
    return await run(argv, { input: `${lines.join('\n')}\n` });
  } catch (err) {
    if (force && err instanceof CommandError) return { stdout: err.stdout, stderr: err.stderr };
    if (err instanceof CommandError) {
      // ip/tc name the failing line as "Command failed -:N"; quote it so the error is self-contained.
      const m = /Command failed -:(\d+)/.exec(err.stderr);
      const line = m ? lines[Number(m[1]) - 1] : undefined;
      throw new CommandError(
        `${err.command} <<< ${line !== undefined ? `(line ${m?.[1]}: ${line})` : `${lines.length} lines`}`,
        err.exitCode,
        err.stderr,
      );
    }
    throw err;
  }
}

/** Spawns a long-running command and resolves once `ready` matches a line of its stdout. */
export function spawnUntil(
  argv: readonly string[],
  ready: RegExp,
  timeoutMs: number,
): Promise<{ child: ReturnType<typeof spawn>; output: () => string }> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('spawnUntil: empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new CommandError(commandLine(argv), null, `${err}\n(not ready after ${timeoutMs} ms)`, out));
    }, timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (!settled && ready.test(out)) {
        settled = true;
        clearTimeout(timer);
        resolve({ child, output: () => out });
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new CommandError(commandLine(argv), null, e.message));
    });
    child.on('exit', (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new CommandError(commandLine(argv), code, err, out));
    });
  });
}
