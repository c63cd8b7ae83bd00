// Located YAML: a document turned into plain maps, lists and scalars that remember their line and
// column, so every checker (intent, catalog, cohort config, topology spec) can point at the
// offending node. readYaml refuses what is not usable YAML with status 400 (syntax error, several
// documents, nesting too deep, alias bomb) and text over maxBytes with 413.

import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
} from 'yaml';
import type { Problem } from './problem.ts';

export interface Located {
  line?: number;
  column?: number;
}
export interface YamlMap extends Located {
  kind: 'map';
  entries: YamlEntry[];
}
export interface YamlEntry extends Located {
  key: string;
  value: YamlValue;
}
export interface YamlSeq extends Located {
  kind: 'seq';
  items: YamlValue[];
}
export interface YamlScalar extends Located {
  kind: 'scalar';
  value: string | number | boolean | null;
  /** the scalar as written (numbers keep their spelling, e.g. `0.50`) */
  text: string;
}
export type YamlValue = YamlMap | YamlSeq | YamlScalar;

export interface ReadYamlOptions {
  fileName?: string;
  /** default 1 MiB */
  maxBytes?: number;
  /** default 100; see yaml's ToJSOptions.maxAliasCount */
  maxAliasCount?: number;
  /** what the text is, for messages: "intent", "catalog" */
  what?: string;
}

export type YamlRead =
  | { ok: true; root: YamlValue | undefined; warnings: Problem[] }
  | { ok: false; status: 400 | 413; problems: Problem[] };
type YamlFailure = Extract<YamlRead, { ok: false }>;
/** A source offset as line and column (none when the offset is unknown). */
type At = (offset: number | undefined) => Located;

export const DEFAULT_MAX_BYTES = 1024 * 1024;
export const DEFAULT_MAX_ALIAS_COUNT = 100;
// A bound on nodes produced while resolving aliases, on top of yaml's maxAliasCount check.
const MAX_NODES = 200_000;

export function readYaml(text: string, opts: ReadYamlOptions = {}): YamlRead {
  const maxAliasCount = opts.maxAliasCount ?? DEFAULT_MAX_ALIAS_COUNT;
  const tooLarge = checkSize(text, opts.what ?? 'document', opts.maxBytes ?? DEFAULT_MAX_BYTES);
  if (tooLarge !== undefined) return tooLarge;
  const lc = new LineCounter();
  const at: At = (offset) => {
    if (offset === undefined) return {};
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const parsed = parse(text, lc, at);
  if (!parsed.ok) return parsed;
  const { doc } = parsed;
  const bomb = checkAliases(doc, maxAliasCount, at);
  if (bomb !== undefined) return bomb;
  const warnings: Problem[] = doc.warnings.map((w) => ({
    path: '',
    ...at(w.pos[0]),
    message: yamlErrorMessage(w.code, w.message),
  }));
  const { root, problems } = toLocated(doc, at);
  if (problems.length > 0) return { ok: false, status: 400, problems };
  return { ok: true, root, warnings };
}

function checkSize(text: string, what: string, maxBytes: number): YamlFailure | undefined {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return undefined;
  return {
    ok: false,
    status: 413,
    problems: [{ path: '', message: `the ${what} is ${bytes} bytes; allowed: at most ${maxBytes} bytes` }],
  };
}

function parse(text: string, lc: LineCounter, at: At): { ok: true; doc: Document.Parsed } | YamlFailure {
  let doc: Document.Parsed;
  try {
    // prettyErrors off: yaml's error snippet builder runs out of memory on pathological nesting.
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    return { ok: false, status: 400, problems: [{ path: '', message: `not valid YAML: ${String(err)}` }] };
  }
  if (doc.errors.length > 0) {
    return {
      ok: false,
      status: 400,
      problems: doc.errors.map((e) => ({
        path: '',
        ...at(e.pos[0]),
        message: yamlErrorMessage(e.code, e.message),
      })),
    };
  }
  return { ok: true, doc };
}

/** Expands the aliases once through yaml's own bound, so an alias bomb is refused before conversion. */
function checkAliases(doc: Document.Parsed, maxAliasCount: number, at: At): YamlFailure | undefined {
  try {
    doc.toJS({ maxAliasCount });
    return undefined;
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      let firstAlias: number | undefined;
      visit(doc, {
        Alias(_, node) {
          firstAlias = node.range?.[0];
          return visit.BREAK;
        },
      });
      return {
        ok: false,
        status: 400,
        problems: [
          {
            path: '',
            ...at(firstAlias),
            message:
              `YAML aliases (*name) here would expand beyond ${maxAliasCount} nodes, as an alias bomb ("billion laughs") does; ` +
              `allowed: aliases whose expansion stays within ${maxAliasCount}`,
          },
        ],
      };
    }
    return { ok: false, status: 400, problems: [{ path: '', message: `not usable YAML: ${String(err)}` }] };
  }
}

/** The document as located values: aliases resolved, cycles and more than MAX_NODES nodes refused. */
function toLocated(doc: Document.Parsed, at: At): { root: YamlValue | undefined; problems: Problem[] } {
  const problems: Problem[] = [];
  let budget = MAX_NODES;
  const ancestors = new Set<unknown>();
  const convert = (node: unknown, fallback: Located): YamlValue => {
    if (--budget < 0) throw new RangeError('too many nodes');
    let target = node;
    if (isAlias(node)) target = node.resolve(doc);
    const range = (target as { range?: [number, number, number] } | null)?.range;
    const pos = range ? at(isAlias(node) ? node.range?.[0] : range[0]) : fallback;
    if (ancestors.has(target)) {
      problems.push({
        path: '',
        ...pos,
        message: 'an alias refers to a node that contains it; allowed: aliases without cycles',
      });
      return { kind: 'scalar', value: null, text: '', ...pos };
    }
    if (isMap(target)) {
      ancestors.add(target);
      const entries: YamlEntry[] = [];
      for (const pair of target.items) {
        if (!isPair(pair)) continue;
        const k = pair.key;
        const keyPos = isScalar(k) && k.range ? at(k.range[0]) : pos;
        const key = isScalar(k) ? String(k.value ?? '') : k === null ? '' : '[complex key]';
        entries.push({ key, ...keyPos, value: convert(pair.value, keyPos) });
      }
      ancestors.delete(target);
      return { kind: 'map', entries, ...pos };
    }
    if (isSeq(target)) {
      ancestors.add(target);
      const items = target.items.map((item) => convert(item, pos));
      ancestors.delete(target);
      return { kind: 'seq', items, ...pos };
    }
    if (isScalar(target)) return locatedScalar(target.value, target.source, pos);
    return { kind: 'scalar', value: null, text: '', ...pos };
  };
  let root: YamlValue | undefined;
  try {
    root = doc.contents === null ? undefined : convert(doc.contents, { line: 1, column: 1 });
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    problems.push({
      path: '',
      message: `expands to more than ${MAX_NODES} nodes; allowed: at most ${MAX_NODES}`,
    });
  }
  return { root, problems };
}

function locatedScalar(v: unknown, source: string | undefined, pos: Located): YamlScalar {
  const value =
    v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : String(v);
  const text = value === null ? '' : typeof value === 'string' ? value : (source ?? String(value));
  return { kind: 'scalar', value, text, ...pos };
}

function yamlErrorMessage(code: string, message: string): string {
  const first = (message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  if (code === 'MULTIPLE_DOCS') return 'contains more than one YAML document (---); allowed: exactly one';
  if (code === 'RESOURCE_EXHAUSTION')
    return `nested too deeply to parse (${first}); allowed: ordinary nesting`;
  if (code === 'DUPLICATE_KEY') return 'a key appears twice in the same mapping; allowed: each key once';
  return `not valid YAML: ${first}`;
}

/** Plain JavaScript (e.g. a decoded MoMo message) as located YAML without positions. */
export function yamlValueFromPlain(value: unknown, depth = 0): YamlValue {
  if (depth > 32) return { kind: 'scalar', value: null, text: '' };
  if (Array.isArray(value)) return { kind: 'seq', items: value.map((v) => yamlValueFromPlain(v, depth + 1)) };
  if (value !== null && typeof value === 'object') {
    return {
      kind: 'map',
      entries: Object.entries(value).map(([key, v]) => ({ key, value: yamlValueFromPlain(v, depth + 1) })),
    };
  }
  if (value === null || value === undefined) return { kind: 'scalar', value: null, text: '' };
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return { kind: 'scalar', value, text: String(value) };
  }
  return { kind: 'scalar', value: String(value), text: String(value) };
}

export function describeYaml(v: YamlValue): string {
  if (v.kind === 'map') return 'a mapping';
  if (v.kind === 'seq') return 'a list';
  if (v.value === null) return 'nothing';
  return `${typeof v.value} ${JSON.stringify(v.value)}`;
}

export function entryOf(map: YamlMap, key: string): YamlEntry | undefined {
  return map.entries.find((e) => e.key === key);
}
