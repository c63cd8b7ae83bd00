// Topology YAML ↔ TopologySpec. parseTopologyYaml reads the file with the located-YAML reader
// (common/yaml/located-yaml.ts), checks its shape (kinds of values, unknown keys: a typo is an
// error, never ignored), then runs the validator and gives every problem its file:line:column.
// toYaml writes a spec back in the same form, one host or link per line.
//
//   name: seed
//   hosts:
//     - {name: fed.1, ip: 10.0.0.101/16, role: fl-server, cohort: 1, cpus: 2}
//     - {name: app.1, ip: 10.0.1.2/16, role: traffic-source, traffic: {to: appserv.0, rateMbps: 20}}
//   switches:
//     - {name: aggsw10}
//   links:
//     - {a: fed.1, b: aggsw10, bandwidthMbps: 500}
//     - {a: satsw11, b: aggsw10, bandwidthMbps: 500, delayMs: 12, ab: {lossPercent: 1}}
//   instances:            # optional, Fogbed-style groups behind one switch
//     - {name: cloud, kind: cloud, switch: aggsw10, cpus: 8, memoryMb: 4096}

import { readFileSync } from 'node:fs';
import { Document, isMap, isSeq, visit } from 'yaml';
import { describeYaml, entryOf, readYaml, type YamlMap, type YamlValue } from '../yaml/located-yaml.ts';
import { ProblemList } from '../yaml/problem-list.ts';
import { locateProblems, type Problem, type SourcePosition, TopologyError } from './topology-error.ts';
import type {
  HostSpec,
  InstanceSpec,
  LinkShape,
  LinkSpec,
  SwitchSpec,
  TopologySpec,
} from './topology-spec.ts';
import { validateSpec } from './validate.ts';

export const TOP_KEYS = ['name', 'hosts', 'switches', 'links', 'instances'] as const;
export const HOST_KEYS = [
  'name',
  'ip',
  'role',
  'cpus',
  'memoryMb',
  'env',
  'image',
  'command',
  'cohort',
  'instance',
  'traffic',
  'parent',
  'publish',
] as const;
export const SWITCH_KEYS = ['name'] as const;
export const SHAPE_KEYS = ['bandwidthMbps', 'delayMs', 'jitterMs', 'lossPercent'] as const;
export const LINK_KEYS = ['a', 'b', ...SHAPE_KEYS, 'ab', 'ba'] as const;
export const INSTANCE_KEYS = ['name', 'kind', 'switch', 'cpus', 'memoryMb'] as const;
const TRAFFIC_KEYS = ['to', 'rateMbps'] as const;

export interface ParsedTopology {
  spec: TopologySpec;
  /** where each field sat in the file, keyed by path (e.g. `links[3].delayMs`) */
  positions: Record<string, SourcePosition>;
  fileName: string;
}

export interface ParseTopologyOptions {
  /** default true: also run validateSpec and throw on its problems */
  validate?: boolean;
}

/** True when a YAML document's top level looks like a topology file (has `hosts:` or `switches:`). */
export function looksLikeTopology(root: unknown): boolean {
  return root !== null && typeof root === 'object' && ('hosts' in root || 'switches' in root);
}

/** Reads a topology YAML text; throws TopologyError naming every problem with file:line:column. */
export function parseTopologyYaml(
  text: string,
  fileName = '<topology>',
  opts: ParseTopologyOptions = {},
): ParsedTopology {
  const read = readYaml(text, { fileName, what: 'topology' });
  if (!read.ok) throw new TopologyError(read.problems, fileName);
  const r = new ShapeReader();
  const spec = r.topology(read.root);
  const problems = [...r.list.problems];
  if (spec !== undefined && opts.validate !== false) {
    // Elements whose shape is already wrong (a missing or mistyped field) would only repeat it.
    const element = (path: string) => /^[a-z]+\[\d+\]/.exec(path)?.[0] ?? path;
    const broken = new Set(
      r.list.problems.filter((p) => !p.message.startsWith('unknown key')).map((p) => element(p.path)),
    );
    for (const p of validateSpec(spec)) if (!broken.has(element(p.path))) problems.push(p);
  }
  if (problems.length > 0 || spec === undefined) {
    throw new TopologyError(sortByPosition(locateProblems(problems, r.list.positions)), fileName);
  }
  return { spec, positions: r.list.positions, fileName };
}

export function readTopologyFile(path: string, opts: ParseTopologyOptions = {}): ParsedTopology {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TopologyError([{ path: '', message: `cannot read it: ${(err as Error).message}` }], path);
  }
  return parseTopologyYaml(text, path, opts);
}

/** The spec as YAML, fields in a fixed order, one host / switch / link / instance per line. */
export function toYaml(spec: TopologySpec): string {
  const plain: Record<string, unknown> = {
    name: spec.name,
    hosts: spec.hosts.map((h) => ordered(h, HOST_KEYS)),
    switches: spec.switches.map((s) => ordered(s, SWITCH_KEYS)),
    links: spec.links.map((l) => ordered(l, LINK_KEYS)),
  };
  if (spec.instances !== undefined) plain['instances'] = spec.instances.map((i) => ordered(i, INSTANCE_KEYS));
  const doc = new Document(plain);
  visit(doc, {
    Seq(_, seq) {
      for (const item of seq.items) if (isMap(item) || isSeq(item)) item.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

function ordered<T extends object>(obj: T, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const rec = obj as Record<string, unknown>;
  for (const k of keys) {
    const v = rec[k];
    if (v === undefined) continue;
    out[k] =
      v !== null && typeof v === 'object' && !Array.isArray(v) && (k === 'ab' || k === 'ba')
        ? ordered(v, SHAPE_KEYS)
        : v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Shape checking: kinds of values and allowed keys. Ranges, names and cross-references are the
// validator's (validate.ts), so a spec built in TypeScript gets the same checks.

class ShapeReader {
  readonly list = new ProblemList();

  topology(root: YamlValue | undefined): TopologySpec | undefined {
    const m = this.map(root, '', 'a topology (name, hosts, switches, links)', TOP_KEYS);
    if (m === undefined) return undefined;
    const spec: TopologySpec = {
      name: this.str(m, 'name', '', true) ?? '',
      hosts: this.seq(m, 'hosts', '', true, (v, p) => this.host(v, p)),
      switches: this.seq(m, 'switches', '', false, (v, p) => this.switch(v, p)),
      links: this.seq(m, 'links', '', false, (v, p) => this.link(v, p)),
    };
    if (entryOf(m, 'instances') !== undefined) {
      spec.instances = this.seq(m, 'instances', '', false, (v, p) => this.instance(v, p));
    }
    return spec;
  }

  private host(v: YamlValue, path: string): HostSpec | undefined {
    const m = this.map(v, path, 'a host {name, ip, role, …}', HOST_KEYS);
    if (m === undefined) return undefined;
    // role and kind go through as written: the validator names the allowed values.
    const role = this.str(m, 'role', path, true);
    const h: HostSpec = {
      name: this.str(m, 'name', path, true) ?? '',
      ip: this.str(m, 'ip', path, true) ?? '',
      role: (role ?? '') as HostSpec['role'],
    };
    const cpus = this.num(m, 'cpus', path, 'a number of CPU cores such as 2 or 0.5');
    if (cpus !== undefined) h.cpus = cpus;
    const memoryMb = this.num(m, 'memoryMb', path, 'a number of MiB such as 512');
    if (memoryMb !== undefined) h.memoryMb = memoryMb;
    const env = this.strMap(m, 'env', path);
    if (env !== undefined) h.env = env;
    const image = this.str(m, 'image', path, false);
    if (image !== undefined) h.image = image;
    if (entryOf(m, 'command') !== undefined) {
      h.command = this.seq(m, 'command', path, false, (v, p) => {
        if (v.kind === 'scalar' && v.value !== null) return v.text;
        this.list.fail(
          p,
          v,
          `got ${describeYaml(v)}; expected a text argument (command is a list: [prog, arg, …])`,
        );
        return undefined;
      });
    }
    const cohort = this.num(m, 'cohort', path, 'a cohort number such as 1');
    if (cohort !== undefined) h.cohort = cohort;
    const instance = this.str(m, 'instance', path, false);
    if (instance !== undefined) h.instance = instance;
    const traffic = this.sub(m, 'traffic', path, '{to, rateMbps}', TRAFFIC_KEYS);
    if (traffic !== undefined) {
      const tp = `${path}.traffic`;
      h.traffic = {
        to: this.str(traffic, 'to', tp, true) ?? '',
        rateMbps: this.num(traffic, 'rateMbps', tp, 'a rate in Mbit/s such as 20', true) ?? 0,
      };
    }
    const parent = this.str(m, 'parent', path, false);
    if (parent !== undefined) h.parent = parent;
    const publish = this.sub(m, 'publish', path, '{<port in the host>: <port on this machine>}', undefined);
    if (publish !== undefined) {
      h.publish = {};
      for (const e of publish.entries) {
        const n = this.num(publish, e.key, `${path}.publish`, 'a port number such as 8001');
        if (n !== undefined) h.publish[e.key] = n;
      }
    }
    return h;
  }

  private switch(v: YamlValue, path: string): SwitchSpec | undefined {
    const m = this.map(v, path, 'a switch {name}', SWITCH_KEYS);
    if (m === undefined) return undefined;
    return { name: this.str(m, 'name', path, true) ?? '' };
  }

  private link(v: YamlValue, path: string): LinkSpec | undefined {
    const m = this.map(v, path, 'a link {a, b, bandwidthMbps, delayMs, …}', LINK_KEYS);
    if (m === undefined) return undefined;
    const l: LinkSpec = { a: this.str(m, 'a', path, true) ?? '', b: this.str(m, 'b', path, true) ?? '' };
    Object.assign(l, this.shape(m, path));
    for (const dir of ['ab', 'ba'] as const) {
      const d = this.sub(m, dir, path, `{${SHAPE_KEYS.join(', ')}}`, SHAPE_KEYS);
      if (d !== undefined) l[dir] = this.shape(d, `${path}.${dir}`);
    }
    return l;
  }

  private shape(m: YamlMap, path: string): LinkShape {
    const s: LinkShape = {};
    const units = { bandwidthMbps: 'Mbit/s', delayMs: 'ms', jitterMs: 'ms', lossPercent: '%' };
    for (const k of SHAPE_KEYS) {
      const n = this.num(m, k, path, `a number (${units[k]})`);
      if (n !== undefined) s[k] = n;
    }
    return s;
  }

  private instance(v: YamlValue, path: string): InstanceSpec | undefined {
    const m = this.map(v, path, 'an instance {name, kind, switch, cpus, memoryMb}', INSTANCE_KEYS);
    if (m === undefined) return undefined;
    const kind = this.str(m, 'kind', path, true);
    const inst: InstanceSpec = {
      name: this.str(m, 'name', path, true) ?? '',
      kind: (kind ?? '') as InstanceSpec['kind'],
      switch: this.str(m, 'switch', path, true) ?? '',
    };
    const cpus = this.num(m, 'cpus', path, 'a number of CPU cores');
    if (cpus !== undefined) inst.cpus = cpus;
    const memoryMb = this.num(m, 'memoryMb', path, 'a number of MiB');
    if (memoryMb !== undefined) inst.memoryMb = memoryMb;
    return inst;
  }

  // -- helpers --------------------------------------------------------------------------------

  private map(
    v: YamlValue | undefined,
    path: string,
    expected: string,
    keys: readonly string[] | undefined,
  ): YamlMap | undefined {
    if (v === undefined || v.kind !== 'map') {
      this.list.fail(path, v, `got ${v === undefined ? 'nothing' : describeYaml(v)}; expected ${expected}`);
      return undefined;
    }
    this.list.note(path, v);
    if (keys !== undefined) {
      for (const e of v.entries) {
        if (keys.includes(e.key)) continue;
        const near = closest(e.key, keys);
        this.list.fail(
          join(path, e.key),
          e,
          `unknown key "${e.key}"${near === undefined ? '' : ` (did you mean ${near}?)`}; allowed: ${keys.join(', ')}`,
        );
      }
    }
    return v;
  }

  private sub(
    m: YamlMap,
    key: string,
    path: string,
    expected: string,
    keys: readonly string[] | undefined,
  ): YamlMap | undefined {
    const e = entryOf(m, key);
    if (e === undefined) return undefined;
    return this.map(e.value, join(path, key), expected, keys);
  }

  private seq<T>(
    m: YamlMap,
    key: string,
    path: string,
    required: boolean,
    item: (v: YamlValue, path: string) => T | undefined,
  ): T[] {
    const e = entryOf(m, key);
    const p = join(path, key);
    if (e === undefined) {
      if (required) this.list.fail(p, m, 'missing; expected a list');
      return [];
    }
    this.list.note(p, e);
    if (e.value.kind === 'scalar' && e.value.value === null) return [];
    if (e.value.kind !== 'seq') {
      this.list.fail(p, e.value, `got ${describeYaml(e.value)}; expected a list`);
      return [];
    }
    const out: T[] = [];
    e.value.items.forEach((v, i) => {
      const t = item(v, `${p}[${i}]`);
      if (t !== undefined) out.push(t);
    });
    return out;
  }

  private str(m: YamlMap, key: string, path: string, required: boolean): string | undefined {
    const e = entryOf(m, key);
    const p = join(path, key);
    if (e === undefined) {
      if (required) this.list.fail(p, m, 'missing; expected a name or text');
      return undefined;
    }
    this.list.note(p, e);
    if (e.value.kind !== 'scalar' || e.value.value === null) {
      this.list.fail(p, e.value, `got ${describeYaml(e.value)}; expected a name or text`);
      return undefined;
    }
    return e.value.text;
  }

  private num(m: YamlMap, key: string, path: string, expected: string, required = false): number | undefined {
    const e = entryOf(m, key);
    const p = join(path, key);
    if (e === undefined) {
      if (required) this.list.fail(p, m, `missing; expected ${expected}`);
      return undefined;
    }
    this.list.note(p, e);
    if (e.value.kind !== 'scalar' || typeof e.value.value !== 'number') {
      this.list.fail(p, e.value, `got ${describeYaml(e.value)}; expected ${expected}`);
      return undefined;
    }
    return e.value.value;
  }

  private strMap(m: YamlMap, key: string, path: string): Record<string, string> | undefined {
    const sub = this.sub(m, key, path, '{NAME: value}', undefined);
    if (sub === undefined) return undefined;
    const out: Record<string, string> = {};
    for (const e of sub.entries) {
      const p = `${join(path, key)}.${e.key}`;
      this.list.note(p, e);
      if (e.value.kind !== 'scalar' || e.value.value === null) {
        this.list.fail(p, e.value, `got ${describeYaml(e.value)}; expected a text value`);
      } else out[e.key] = e.value.text;
    }
    return out;
  }
}

function sortByPosition(problems: Problem[]): Problem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((x, y) => (x.p.line ?? 0) - (y.p.line ?? 0) || (x.p.column ?? 0) - (y.p.column ?? 0) || x.i - y.i)
    .map(({ p }) => p);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** The allowed key a typo most likely meant: same letters ignoring case, its start, or at most 2 edits away. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of allowed) {
    const [x, y] = [key.toLowerCase(), k.toLowerCase()];
    const d = x === y ? 0 : x.length >= 3 && y.startsWith(x) ? 1 : editDistance(x, y);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
