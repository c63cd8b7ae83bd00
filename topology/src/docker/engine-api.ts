// The Docker Engine API as the docker backend uses it: HTTP over dockerd's socket (DOCKER_HOST
// unix:// or tcp://, else /var/run/docker.sock), the few calls a run needs (create, start, inspect,
// list by label, update, remove, logs, image inspect). It is the only module of the backend that
// speaks Docker's wire format (as dockerode would, without a dependency): the rest sees plain
// records. A transport failure becomes EngineUnreachableError, which says how to start an engine.

import { request } from 'node:http';
import { START_HINT } from './engine.ts';

export const API_VERSION = 'v1.41';

export class EngineUnreachableError extends Error {
  constructor(
    readonly endpoint: string,
    why: string,
  ) {
    super(
      `no Docker engine answers at ${endpoint} (${why}); nothing was created. Start one: ${START_HINT}` +
        ', or point DOCKER_HOST at a running engine',
    );
    this.name = 'EngineUnreachableError';
  }
}

export class EngineError extends Error {
  constructor(
    readonly status: number,
    readonly what: string,
    message: string,
  ) {
    super(`${what}: Docker engine answered ${status}: ${message}`);
    this.name = 'EngineError';
  }
}

interface Endpoint {
  socketPath?: string;
  host?: string;
  port?: number;
  text: string;
}

export function engineEndpoint(dockerHost = process.env.DOCKER_HOST): Endpoint {
  const value = dockerHost && dockerHost !== '' ? dockerHost : 'unix:///var/run/docker.sock';
  if (value.startsWith('unix://')) return { socketPath: value.slice('unix://'.length), text: value };
  const tcp = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(value);
  if (tcp) return { host: tcp[1] ?? '', port: Number(tcp[2]), text: value };
  throw new Error(`DOCKER_HOST=${value}: allowed: unix:///path/to/docker.sock or tcp://host:port (no TLS)`);
}

export interface ContainerCreate {
  name: string;
  image: string;
  labels: Record<string, string>;
  env: string[];
  cmd?: string[];
  entrypoint?: string[];
  hostname: string;
  nanoCpus?: number;
  memoryBytes?: number;
  /** bind mounts, `SRC:DEST[:ro]` */
  binds?: string[];
}

export interface ContainerInfo {
  id: string;
  name: string;
  labels: Record<string, string>;
  pid: number;
  running: boolean;
  status: string;
  exitCode: number;
  health?: string;
  env: string[];
  nanoCpus: number;
  memoryBytes: number;
  image: string;
}

export class DockerEngine {
  readonly endpoint: Endpoint;
  constructor(dockerHost?: string) {
    this.endpoint = engineEndpoint(dockerHost);
  }

  private call(
    method: string,
    path: string,
    what: string,
    body?: unknown,
    timeoutMs = 60_000,
  ): Promise<{ status: number; text: string; raw: Buffer }> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          ...(this.endpoint.socketPath
            ? { socketPath: this.endpoint.socketPath }
            : { host: this.endpoint.host, port: this.endpoint.port }),
          method,
          path: `/${API_VERSION}${path}`,
          headers: data
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }
            : {},
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const raw = Buffer.concat(chunks);
            resolve({ status: res.statusCode ?? 0, text: raw.toString(), raw });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'ENOENT' ||
            err.code === 'ECONNREFUSED' ||
            err.code === 'EACCES' ||
            /no answer/.test(err.message)
            ? new EngineUnreachableError(this.endpoint.text, err.code ?? err.message)
            : new Error(`${what}: ${err.message}`),
        ),
      );
      if (data) req.write(data);
      req.end();
    });
  }

  private async json<T>(
    method: string,
    path: string,
    what: string,
    body?: unknown,
    ok = [200, 201, 204],
  ): Promise<T> {
    const r = await this.call(method, path, what, body);
    if (!ok.includes(r.status)) throw new EngineError(r.status, what, engineMessage(r.text));
    return (r.text ? JSON.parse(r.text) : undefined) as T;
  }

  /** Resolves when the engine answers; EngineUnreachableError otherwise. */
  async ping(): Promise<void> {
    const r = await this.call('GET', '/_ping', 'ping', undefined, 10_000);
    if (r.status !== 200) throw new EngineUnreachableError(this.endpoint.text, `ping answered ${r.status}`);
  }

  async imageExists(ref: string): Promise<boolean> {
    const r = await this.call('GET', `/images/${encodeURIComponent(ref)}/json`, `image ${ref}`);
    if (r.status === 200) return true;
    if (r.status === 404) return false;
    throw new EngineError(r.status, `image ${ref}`, engineMessage(r.text));
  }

  /** Containers (running or not) whose labels match every `key=value` given (`key` alone when the value is ''). */
  async list(
    labels: Record<string, string>,
  ): Promise<{ id: string; name: string; labels: Record<string, string> }[]> {
    const filters = JSON.stringify({
      label: Object.entries(labels).map(([k, v]) => (v === '' ? k : `${k}=${v}`)),
    });
    const rows = await this.json<{ Id: string; Names: string[]; Labels: Record<string, string> }[]>(
      'GET',
      `/containers/json?all=1&filters=${encodeURIComponent(filters)}`,
      'listing containers',
    );
    return rows.map((r) => ({
      id: r.Id,
      name: (r.Names[0] ?? '').replace(/^\//, ''),
      labels: r.Labels ?? {},
    }));
  }

  /** Containers with one of these names (exact), whoever made them. */
  async byNames(
    names: readonly string[],
  ): Promise<{ id: string; name: string; labels: Record<string, string> }[]> {
    if (names.length === 0) return [];
    const wanted = new Set(names);
    const rows = await this.json<{ Id: string; Names: string[]; Labels: Record<string, string> }[]>(
      'GET',
      '/containers/json?all=1',
      'listing containers',
    );
    return rows
      .map((r) => ({ id: r.Id, name: (r.Names[0] ?? '').replace(/^\//, ''), labels: r.Labels ?? {} }))
      .filter((r) => wanted.has(r.name));
  }

  async create(c: ContainerCreate): Promise<string> {
    const body = {
      Image: c.image,
      Hostname: c.hostname,
      Labels: c.labels,
      Env: c.env,
      ...(c.cmd ? { Cmd: c.cmd } : {}),
      ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}),
      NetworkDisabled: false,
      HostConfig: {
        NetworkMode: 'none',
        CapAdd: ['NET_ADMIN'],
        Privileged: false,
        Init: false,
        ...(c.binds ? { Binds: c.binds } : {}),
        ...(c.nanoCpus !== undefined ? { NanoCpus: c.nanoCpus } : {}),
        ...(c.memoryBytes !== undefined ? { Memory: c.memoryBytes, MemorySwap: c.memoryBytes } : {}),
      },
    };
    const r = await this.json<{ Id: string }>(
      'POST',
      `/containers/create?name=${encodeURIComponent(c.name)}`,
      `creating container ${c.name}`,
      body,
    );
    return r.Id;
  }

  async start(id: string, what: string): Promise<void> {
    await this.json('POST', `/containers/${id}/start`, `starting ${what}`, undefined, [204, 304]);
  }

  async inspect(id: string): Promise<ContainerInfo | undefined> {
    const r = await this.call('GET', `/containers/${encodeURIComponent(id)}/json`, `inspecting ${id}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new EngineError(r.status, `inspecting ${id}`, engineMessage(r.text));
    const j = JSON.parse(r.text) as {
      Id: string;
      Name: string;
      Config: { Labels: Record<string, string>; Env: string[] | null; Image: string };
      State: { Pid: number; Running: boolean; Status: string; ExitCode: number; Health?: { Status: string } };
      HostConfig: { NanoCpus: number; Memory: number };
    };
    const info: ContainerInfo = {
      id: j.Id,
      name: j.Name.replace(/^\//, ''),
      labels: j.Config.Labels ?? {},
      pid: j.State.Pid,
      running: j.State.Running,
      status: j.State.Status,
      exitCode: j.State.ExitCode,
      env: j.Config.Env ?? [],
      nanoCpus: j.HostConfig.NanoCpus ?? 0,
      memoryBytes: j.HostConfig.Memory ?? 0,
      image: j.Config.Image,
    };
    if (j.State.Health) info.health = j.State.Health.Status;
    return info;
  }

  /** Removes a container and what runs in it; a container already gone counts as removed. */
  async remove(id: string): Promise<void> {
    const r = await this.call(
      'DELETE',
      `/containers/${encodeURIComponent(id)}?force=1&v=1`,
      `removing ${id}`,
    );
    if (r.status !== 204 && r.status !== 404)
      throw new EngineError(r.status, `removing ${id}`, engineMessage(r.text));
  }

  /** The last `lines` of a container's output (stdout and stderr). */
  async logTail(id: string, lines = 20): Promise<string> {
    const r = await this.call(
      'GET',
      `/containers/${id}/logs?stdout=1&stderr=1&tail=${lines}`,
      `logs of ${id}`,
    );
    if (r.status !== 200) return `(no logs: ${engineMessage(r.text)})`;
    return demux(r.raw).trim();
  }
}

function engineMessage(text: string): string {
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    return text.trim();
  }
}

/** Docker's multiplexed log stream (8-byte frame headers) to text; plain text passes as it is. */
function demux(buf: Buffer): string {
  const out: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length && (buf[i] === 1 || buf[i] === 2) && buf[i + 1] === 0) {
    const len = buf.readUInt32BE(i + 4);
    out.push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  if (i === 0) return buf.toString('utf8');
  return Buffer.concat(out).toString('utf8');
}
