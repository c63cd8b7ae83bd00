// Field readers for request bodies that arrive either form-encoded (every value a string, as
// the seed's MLFO sent them) or as JSON (numbers may be numbers). Each reader records a
// problem (field, what was wrong, what is allowed) instead of throwing, so one 400 can list
// every bad field at once.

export interface FieldProblem {
  field: string;
  message: string;
}

export class ValidationError extends Error {
  constructor(readonly problems: FieldProblem[]) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
    this.name = 'ValidationError';
  }
}

export type Body = Record<string, unknown>;

export interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
  /** min is excluded from the allowed range */
  minExclusive?: boolean;
}

function describeRange(rule: NumberRule): string {
  const kind = rule.integer ? 'an integer' : 'a number';
  if (rule.min !== undefined && rule.max !== undefined) {
    return `${kind} in ${rule.minExclusive ? '(' : '['}${rule.min}, ${rule.max}]`;
  }
  if (rule.min !== undefined) return `${kind} ${rule.minExclusive ? '>' : '≥'} ${rule.min}`;
  if (rule.max !== undefined) return `${kind} ≤ ${rule.max}`;
  return kind;
}

export class FieldReader {
  readonly problems: FieldProblem[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly body: Body) {}

  private raw(field: string): unknown {
    this.seen.add(field);
    const v = this.body[field];
    if (Array.isArray(v)) {
      this.problems.push({ field, message: 'given more than once; give it once' });
      return undefined;
    }
    if (v === undefined || v === null || v === '') return undefined;
    return v;
  }

  has(field: string): boolean {
    const v = this.body[field];
    return v !== undefined && v !== null && v !== '';
  }

  problem(field: string, message: string): void {
    this.problems.push({ field, message });
  }

  number(field: string, rule: NumberRule, fallback: number): number;
  number(field: string, rule: NumberRule): number | undefined;
  number(field: string, rule: NumberRule, fallback?: number): number | undefined {
    const v = this.raw(field);
    if (v === undefined) return fallback;
    const n =
      typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v.trim()) : Number.NaN;
    const allowed = describeRange(rule);
    const bad =
      !Number.isFinite(n) ||
      (rule.integer === true && !Number.isInteger(n)) ||
      (rule.min !== undefined && (rule.minExclusive ? n <= rule.min : n < rule.min)) ||
      (rule.max !== undefined && n > rule.max);
    if (bad) {
      this.problems.push({ field, message: `got ${JSON.stringify(v)}; allowed: ${allowed}` });
      return fallback;
    }
    return n;
  }

  requiredNumber(field: string, rule: NumberRule): number {
    const n = this.number(field, rule);
    if (n === undefined && !this.problems.some((p) => p.field === field)) {
      this.problems.push({ field, message: `missing; allowed: ${describeRange(rule)}` });
    }
    return n ?? Number.NaN;
  }

  string(field: string, fallback: string): string;
  string(field: string): string | undefined;
  string(field: string, fallback?: string): string | undefined {
    const v = this.raw(field);
    if (v === undefined) return fallback;
    if (typeof v !== 'string' && typeof v !== 'number') {
      this.problems.push({ field, message: `got ${JSON.stringify(v)}; allowed: a string` });
      return fallback;
    }
    return String(v).trim();
  }

  /** A value from a fixed list, matched case-insensitively; the canonical spelling is returned. */
  oneOf<T extends string>(field: string, allowed: readonly T[], fallback?: T): T | undefined {
    const v = this.string(field);
    if (v === undefined) {
      if (fallback === undefined) {
        this.problems.push({ field, message: `missing; allowed: ${allowed.join(', ')}` });
      }
      return fallback;
    }
    const hit = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
    if (hit === undefined) {
      this.problems.push({
        field,
        message: `unknown value ${JSON.stringify(v)}; allowed: ${allowed.join(', ')}`,
      });
    }
    return hit;
  }

  /** Fields present in the body that no reader asked for: most likely typos. */
  rejectUnknown(): void {
    for (const key of Object.keys(this.body)) {
      if (!this.seen.has(key)) {
        this.problems.push({
          field: key,
          message: `unknown field; allowed: ${[...this.seen].sort().join(', ')}`,
        });
      }
    }
  }

  finish(): void {
    if (this.problems.length > 0) throw new ValidationError(this.problems);
  }
}

const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;

/** Parses "host:port" (IPv4, hostname or [IPv6]); undefined when malformed. */
export function parseHostPort(value: string): { host: string; port: number } | undefined {
  const i = value.lastIndexOf(':');
  if (i <= 0) return undefined;
  const host = value.slice(0, i);
  const portText = value.slice(i + 1);
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535 || !HOST_RE.test(host)) return undefined;
  if (/^[\d.]+$/.test(host)) {
    const parts = host.split('.');
    if (parts.length !== 4 || parts.some((p) => p === '' || Number(p) > 255)) return undefined;
  }
  return { host, port };
}
