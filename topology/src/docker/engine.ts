// The Docker engine as the image build and the docker tests see it: the docker CLI run
// synchronously, whether an engine answers (and, when none does, how to start one), and the label
// every image, container, network and volume this project makes carries.

import { spawnSync } from 'node:child_process';

/** Label key on everything this project builds or starts; its value says what (base, project, …). */
export const LABEL = 'mlfo.image';

export const START_HINT =
  'start one with `bash scripts/dockerd.sh start` (as root; needs the apt package docker.io)';

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `docker <args>`; input goes to its stdin. Never throws for a non-zero exit. */
export function docker(
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number; inherit?: boolean } = {},
): DockerResult {
  const r = spawnSync('docker', args, {
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
    stdio: opts.inherit ? ['pipe', 'inherit', 'inherit'] : 'pipe',
  });
  return {
    code: r.status ?? -1,
    stdout: r.stdout ?? '',
    stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`,
  };
}

/** null when a Docker engine answers; else why not, with how to start one. */
export function engineProblem(): string | null {
  const r = docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 15_000 });
  if (r.code === 0 && r.stdout.trim() !== '') return null;
  if (/ENOENT/.test(r.stderr)) return 'the docker CLI is not installed (apt-get install docker.io)';
  const why = r.stderr.trim().split('\n').pop() ?? 'no answer';
  return `no Docker engine answers (${why}); ${START_HINT}`;
}

export function imageExists(ref: string): boolean {
  return docker(['image', 'inspect', '--format', '{{.Id}}', ref], { timeoutMs: 30_000 }).code === 0;
}
