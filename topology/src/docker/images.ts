// The project's images, built without a registry (npm run image):
//   mlfo-base:<hash>  Debian bookworm with Node.js 20 and the packages the roles need (iproute2 for
//                     `ss` and links, iperf3, ping, redis-server, prometheus). From
//                     node:20-bookworm-slim when that image is here or can be pulled, else made
//                     locally: debootstrap --variant=minbase, this machine's own node binary,
//                     `docker import`. The tag hashes what goes in, so an existing one is reused.
//   mlfo:<hash>, mlfo:latest  the root Dockerfile on that base: the installed node_modules/ (minus
//                     build-only packages, see .dockerignore), dist/, bin/ and the files the node
//                     programs read at run time. No npm install in the build (containers here
//                     cannot reach the npm registry); the tag hashes the context, so nothing
//                     changed = nothing built.
// Everything built carries the label mlfo.image (base, project).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { docker, engineProblem, imageExists, LABEL } from './engine.ts';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BASE_REPO = 'mlfo-base';
export const PROJECT_REPO = 'mlfo';
export const PROJECT_IMAGE = `${PROJECT_REPO}:latest`;
export const BASE_IMAGE = `${BASE_REPO}:latest`;
export const BUILD_COMMAND = 'npm run image';
/** where the project lives in the project image (the Dockerfile's WORKDIR) */
export const IMAGE_ROOT = '/app';
export const PUBLIC_BASE = 'node:20-bookworm-slim';
export const SUITE = 'bookworm';
export const BASE_PACKAGES = [
  'ca-certificates',
  'iproute2',
  'iperf3',
  'iputils-ping',
  'procps',
  'redis-server',
  'prometheus',
];
/** What the project image holds, relative to the root; .dockerignore takes parts out again. */
export const CONTEXT = [
  'Dockerfile',
  'package.json',
  'tsconfig.json',
  'bin',
  'dist',
  'node_modules',
  'common',
  'flower-adapter/src',
  'mlfo/src',
  'topology/src',
  'intents',
  'monitoring',
];
// The base's rootfs loses what no container reads: package caches and lists, documentation, and
// the timezone data files of moment-timezone (212 MB that prometheus's web UI does not load).
const ROOTFS_PRUNE = [
  'var/cache/apt/archives',
  'var/lib/apt/lists',
  'usr/share/doc',
  'usr/share/man',
  'usr/share/info',
  'usr/share/javascript/moment-timezone/data',
];

export type Log = (line: string) => void;

export interface Built {
  ref: string;
  /** false: an image with that content tag was there already */
  built: boolean;
  seconds: number;
}

function sha(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 12);
}

function since(t0: number): number {
  return Math.round((Date.now() - t0) / 100) / 10;
}

/** Runs a program to the end, its output to the log (prefixed); rejects with the output's tail. */
function runLogged(
  cmd: string,
  args: string[],
  log: Log,
  opts: { input?: NodeJS.ReadableStream } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    });
    const tail: string[] = [];
    const take = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        tail.push(line);
        if (tail.length > 30) tail.shift();
        if (process.env.MLFO_IMAGE_VERBOSE === '1') log(`  ${line}`);
      }
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    if (opts.input && child.stdin) opts.input.pipe(child.stdin);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(`${cmd} ${args.slice(0, 3).join(' ')} … failed (exit ${code}):\n${tail.join('\n')}`),
        );
    });
  });
}

/** The Debian mirror this machine's apt uses (deb822 or one-line sources), else deb.debian.org. */
export function debianMirror(): string {
  if (process.env.MLFO_DEBIAN_MIRROR) return process.env.MLFO_DEBIAN_MIRROR;
  const files = ['/etc/apt/sources.list'];
  if (existsSync('/etc/apt/sources.list.d'))
    for (const f of readdirSync('/etc/apt/sources.list.d')) files.push(join('/etc/apt/sources.list.d', f));
  for (const f of files) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)/gm)) {
      const uri = m[1]!;
      if (/\/debian\/?$/.test(uri)) return uri.replace(/\/$/, '');
    }
  }
  return 'http://deb.debian.org/debian';
}

function tagLatest(ref: string, latest: string): void {
  const r = docker(['tag', ref, latest]);
  if (r.code !== 0) throw new Error(`docker tag ${ref} ${latest}: ${r.stderr.trim()}`);
}

/** Removes the other tags of the repo that carry our label `kind` (an image in use stays). */
function dropOldTags(repo: string, kind: string, keep: string[], log: Log): void {
  const r = docker([
    'image',
    'ls',
    '--filter',
    `label=${LABEL}=${kind}`,
    '--format',
    '{{.Repository}}:{{.Tag}}',
    repo,
  ]);
  for (const ref of r.stdout.split('\n').map((s) => s.trim())) {
    if (ref === '' || keep.includes(ref) || ref.endsWith(':<none>')) continue;
    if (docker(['image', 'rm', ref]).code === 0) log(`image: removed the older ${ref}`);
  }
}

function pullable(ref: string, log: Log): boolean {
  if (imageExists(ref)) return true;
  if (process.env.MLFO_BASE === 'debootstrap') return false;
  const r = docker(['pull', '--quiet', ref], { timeoutMs: 300_000 });
  if (r.code === 0) return true;
  log(`image: ${ref} cannot be pulled (${r.stderr.trim().split('\n').pop()}); making the base locally`);
  return false;
}

/** The base image, reused when its content tag exists, else built (from node:20 or debootstrap). */
export async function ensureBase(log: Log): Promise<Built> {
  const t0 = Date.now();
  const fromPublic = `${BASE_REPO}:${sha({ from: PUBLIC_BASE, packages: BASE_PACKAGES })}`;
  const local = `${BASE_REPO}:${sha({ suite: SUITE, packages: BASE_PACKAGES, node: process.version, arch: process.arch })}`;
  const forced = process.env.MLFO_BASE;
  for (const ref of forced === 'debootstrap'
    ? [local]
    : forced === 'node'
      ? [fromPublic]
      : [fromPublic, local]) {
    if (imageExists(ref)) {
      tagLatest(ref, BASE_IMAGE);
      return { ref, built: false, seconds: since(t0) };
    }
  }
  if (forced !== 'debootstrap' && pullable(PUBLIC_BASE, log)) {
    log(`image: building ${fromPublic} from ${PUBLIC_BASE} (packages: ${BASE_PACKAGES.join(' ')})`);
    const dockerfile = [
      `FROM ${PUBLIC_BASE}`,
      'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ' +
        `${BASE_PACKAGES.join(' ')} && rm -rf /var/lib/apt/lists/*`,
      `LABEL ${LABEL}=base mlfo.base.from=${PUBLIC_BASE}`,
    ].join('\n');
    const { Readable } = await import('node:stream');
    await runLogged('docker', ['build', '-t', fromPublic, '-'], log, { input: Readable.from([dockerfile]) });
    tagLatest(fromPublic, BASE_IMAGE);
    dropOldTags(BASE_REPO, 'base', [fromPublic, local, BASE_IMAGE], log);
    return { ref: fromPublic, built: true, seconds: since(t0) };
  }
  if (forced === 'node') throw new Error(`MLFO_BASE=node, but ${PUBLIC_BASE} is neither here nor pullable`);
  await buildLocalBase(local, log);
  tagLatest(local, BASE_IMAGE);
  dropOldTags(BASE_REPO, 'base', [fromPublic, local, BASE_IMAGE], log);
  return { ref: local, built: true, seconds: since(t0) };
}

async function buildLocalBase(ref: string, log: Log): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('making the base image with debootstrap needs root');
  const mirror = debianMirror();
  const work = mkdtempSync('/var/tmp/mlfo-base-');
  const root = join(work, 'rootfs');
  try {
    log(
      `image: building ${ref}: debootstrap --variant=minbase ${SUITE} from ${mirror} (about a minute) ` +
        `with ${BASE_PACKAGES.join(' ')}, and this machine's node ${process.version}`,
    );
    await runLogged(
      'debootstrap',
      ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, SUITE, root, mirror],
      log,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}\n(debootstrap's own log: ${join(root, 'debootstrap', 'debootstrap.log')})`,
      );
    });
    copyFileSync(process.execPath, join(root, 'usr/local/bin/node'));
    chmodSync(join(root, 'usr/local/bin/node'), 0o755);
    // the user the project image runs as, uid 1000 as in the node images
    await runLogged(
      'chroot',
      [root, 'sh', '-c', 'id node >/dev/null 2>&1 || useradd -m -u 1000 -U -s /bin/sh node'],
      log,
    );
    await runLogged('chroot', [root, 'node', '--version'], log);
    for (const p of ROOTFS_PRUNE) {
      const dir = join(root, p);
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
    }
    const tar = spawn('tar', ['-C', root, '--numeric-owner', '-c', '.'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await runLogged(
      'docker',
      [
        'import',
        '--change',
        `LABEL ${LABEL}=base mlfo.base.suite=${SUITE} mlfo.base.node=${process.version}`,
        '--change',
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8',
        '--change',
        'CMD ["/bin/bash"]',
        '-',
        ref,
      ],
      log,
      { input: tar.stdout },
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** .dockerignore as exact paths (or path prefixes) relative to the root; `*` within one segment. */
export function ignorePatterns(): RegExp[] {
  const file = join(ROOT, '.dockerignore');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const body = l
        .replace(/^\/+|\/+$/g, '')
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replaceAll('*', '[^/]*');
      return new RegExp(`^${body}(/|$)`);
    });
}

/** The context's paths (directories first, then their files), symlinks followed. */
export function contextFiles(): Array<{ path: string; dir: boolean; size: number; mtimeMs: number }> {
  const ignore = ignorePatterns();
  const out: Array<{ path: string; dir: boolean; size: number; mtimeMs: number }> = [];
  const walk = (rel: string) => {
    if (ignore.some((re) => re.test(rel))) return;
    const st = statSync(join(ROOT, rel), { throwIfNoEntry: false });
    if (!st) return;
    out.push({ path: rel, dir: st.isDirectory(), size: st.size, mtimeMs: Math.floor(st.mtimeMs) });
    if (st.isDirectory()) for (const name of readdirSync(join(ROOT, rel)).sort()) walk(`${rel}/${name}`);
  };
  for (const c of CONTEXT) walk(c);
  return out;
}

/** The project image's content tag: the base, every file's content (node_modules: path, size, time). */
export function projectHash(baseRef: string, files = contextFiles()): string {
  const h = createHash('sha256').update(`${baseRef}\n`);
  for (const f of files) {
    if (f.dir) continue;
    if (f.path.startsWith('node_modules/')) h.update(`${f.path} ${f.size} ${f.mtimeMs}\n`);
    else h.update(`${f.path} ${f.size}\n`).update(readFileSync(join(ROOT, f.path)));
  }
  return h.digest('hex').slice(0, 12);
}

/** The project image on `baseRef`: reused when its content tag exists, else `docker build`. */
export async function ensureProject(baseRef: string, log: Log): Promise<Built> {
  const t0 = Date.now();
  for (const need of ['dist/.build-stamp', 'node_modules/tsx/package.json'])
    if (!existsSync(join(ROOT, need)))
      throw new Error(
        `${need} is missing: run \`npm install\` and \`npm run build\` (or bash scripts/setup.sh) first`,
      );
  const files = contextFiles();
  const ref = `${PROJECT_REPO}:${projectHash(baseRef, files)}`;
  if (imageExists(ref)) {
    tagLatest(ref, PROJECT_IMAGE);
    return { ref, built: false, seconds: since(t0) };
  }
  const mb = Math.round(files.reduce((s, f) => s + (f.dir ? 0 : f.size), 0) / 1e6);
  log(`image: building ${ref} on ${baseRef} (context ${files.length} entries, ${mb} MB)`);
  const tar = spawn('tar', ['-C', ROOT, '-c', '-h', '--no-recursion', '--null', '-T', '-', '-f', '-'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  tar.stdin.end(files.map((f) => `${f.path}\0`).join(''));
  await runLogged(
    'docker',
    [
      'build',
      '--build-arg',
      `BASE=${baseRef}`,
      '--label',
      `${LABEL}=project`,
      '--label',
      `mlfo.content=${ref.split(':')[1]}`,
      '-t',
      ref,
      '-t',
      PROJECT_IMAGE,
      '-',
    ],
    log,
    { input: tar.stdout },
  );
  dropOldTags(PROJECT_REPO, 'project', [ref, PROJECT_IMAGE], log);
  return { ref, built: true, seconds: since(t0) };
}

function sizeOf(ref: string): string {
  const r = docker(['image', 'inspect', '--format', '{{.Size}}', ref]);
  return r.code === 0 ? `${Math.round(Number(r.stdout.trim()) / 1e6)} MB` : '?';
}

/** Both images; throws with the reason when no engine answers. */
export async function buildImages(log: Log): Promise<{ base: Built; project: Built }> {
  const problem = engineProblem();
  if (problem !== null) throw new Error(problem);
  const base = await ensureBase(log);
  log(
    base.built
      ? `image: built ${base.ref} in ${base.seconds} s (${sizeOf(base.ref)}), tagged ${BASE_IMAGE}`
      : `image: base ${base.ref} is up to date (${sizeOf(base.ref)}), tagged ${BASE_IMAGE}`,
  );
  const project = await ensureProject(base.ref, log);
  log(
    project.built
      ? `image: built ${project.ref} in ${project.seconds} s (${sizeOf(project.ref)}), tagged ${PROJECT_IMAGE}`
      : `image: ${project.ref} is up to date (${sizeOf(project.ref)}), tagged ${PROJECT_IMAGE}`,
  );
  return { base, project };
}
