// Aggregation as pure functions on arrays (Flower's server/strategy/aggregate.py): FedAvg's
// example-weighted mean of client updates, of losses and of numeric metrics. Nothing here knows
// about clients, rounds or the wire; callers decode Parameters to NDArrays first (npy.ts).
//
// weightedAverage always returns float32. It accumulates in a Float64 block of a few thousand
// elements that stays in L1/L2 cache while every client's slice is added to it, then rounds once
// to float32: more accurate than Flower's in-place float32 sums and faster than a full-size
// float64 accumulator, because each update is streamed from memory exactly once.

import type { Dtype, Metrics, NDArray, TypedArray } from '../types.ts';

export interface WeightedUpdate {
  arrays: NDArray[];
  numExamples: number;
  /** Names the client in error messages (e.g. its cid); the index is used otherwise. */
  id?: string;
}

/** Elements per accumulation block: 4096 float64 = 32 KiB, one L1 data cache. */
const BLOCK = 4096;

const NUMERIC_DTYPES: ReadonlySet<Dtype> = new Set<Dtype>(['f4', 'f8', 'i1', 'i2', 'i4', 'u1', 'u2', 'u4']);

function checkNumExamples(n: number, where: string): void {
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new RangeError(`${where}: numExamples must be an integer > 0, got ${String(n)}`);
  }
}

function shapeSize(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function sameShape(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function fmtShape(shape: number[]): string {
  return `[${shape.join(',')}]`;
}

/**
 * Throws unless every update has numExamples > 0 and the same number, shapes and sizes of real
 * arrays; `where` (the aggregation's name) starts every message.
 */
export function validateUpdates(updates: WeightedUpdate[], where = 'weightedAverage'): void {
  if (updates.length === 0) throw new RangeError(`${where}: no updates to aggregate (need at least 1)`);
  const ref = updates[0]!.arrays;
  const who = (c: number): string =>
    `client ${c}${updates[c]!.id === undefined ? '' : ` (${updates[c]!.id})`}`;
  updates.forEach((u, c) => {
    checkNumExamples(u.numExamples, `${where}: ${who(c)}`);
    if (u.arrays.length !== ref.length) {
      throw new RangeError(
        `${where}: ${who(c)} sent ${u.arrays.length} arrays, ${who(0)} sent ${ref.length}; all clients must send the same number`,
      );
    }
    u.arrays.forEach((a, k) => {
      const r = ref[k]!;
      if (!sameShape(a.shape, r.shape)) {
        throw new RangeError(
          `${where}: ${who(c)} array ${k} has shape ${fmtShape(a.shape)}, ${who(0)} has ${fmtShape(r.shape)}; shapes must match`,
        );
      }
      if (!NUMERIC_DTYPES.has(a.dtype)) {
        throw new RangeError(
          `${where}: ${who(c)} array ${k} has dtype ${a.dtype}; allowed: ${[...NUMERIC_DTYPES].join(', ')}`,
        );
      }
      const size = shapeSize(a.shape);
      if (a.data.length !== size) {
        throw new RangeError(
          `${where}: ${who(c)} array ${k} holds ${a.data.length} elements but shape ${fmtShape(a.shape)} needs ${size}`,
        );
      }
    });
  });
}

// Float32 kernel: per cache-sized block, four clients per pass, so the accumulator is loaded and
// stored once per four updates (about 2x faster than one client per pass on V8).
function averageF32(dst: Float32Array, srcs: Float32Array[], weights: number[], acc: Float64Array): void {
  const size = dst.length;
  const n = srcs.length;
  for (let offset = 0; offset < size; offset += BLOCK) {
    const len = Math.min(BLOCK, size - offset);
    acc.fill(0, 0, len);
    let c = 0;
    for (; c + 4 <= n; c += 4) {
      const a = srcs[c]!;
      const b = srcs[c + 1]!;
      const d = srcs[c + 2]!;
      const e = srcs[c + 3]!;
      const wa = weights[c]!;
      const wb = weights[c + 1]!;
      const wd = weights[c + 2]!;
      const we = weights[c + 3]!;
      for (let i = 0; i < len; i++) {
        const j = offset + i;
        acc[i]! += wa * a[j]! + wb * b[j]! + wd * d[j]! + we * e[j]!;
      }
    }
    for (; c < n; c++) {
      const a = srcs[c]!;
      const w = weights[c]!;
      for (let i = 0; i < len; i++) acc[i]! += w * a[offset + i]!;
    }
    for (let i = 0; i < len; i++) dst[offset + i] = acc[i]!;
  }
}

// Any other real dtype: one client per pass, kept apart so the float32 kernel stays monomorphic.
function averageAny(dst: Float32Array, srcs: TypedArray[], weights: number[], acc: Float64Array): void {
  const size = dst.length;
  for (let offset = 0; offset < size; offset += BLOCK) {
    const len = Math.min(BLOCK, size - offset);
    acc.fill(0, 0, len);
    for (let c = 0; c < srcs.length; c++) {
      const a = srcs[c] as unknown as ArrayLike<number>;
      const w = weights[c]!;
      for (let i = 0; i < len; i++) acc[i]! += w * a[offset + i]!;
    }
    for (let i = 0; i < len; i++) dst[offset + i] = acc[i]!;
  }
}

/**
 * Example-weighted mean of client updates: out[k] = Σ_c n_c·x_c[k] / Σ_c n_c, as float32 arrays with
 * the clients' shapes. Inputs may be any real dtype except f2/i8/u8/b1. Throws a RangeError naming
 * the client and array when counts, shapes, dtypes or numExamples are wrong.
 */
export function weightedAverage(updates: WeightedUpdate[]): NDArray[] {
  validateUpdates(updates);
  let total = 0;
  for (const u of updates) total += u.numExamples;
  const weights = updates.map((u) => u.numExamples / total);
  const acc = new Float64Array(BLOCK);
  const nArrays = updates[0]!.arrays.length;
  const out: NDArray[] = [];
  for (let k = 0; k < nArrays; k++) {
    const shape = updates[0]!.arrays[k]!.shape;
    const size = shapeSize(shape);
    const dst = new Float32Array(size);
    const srcs = updates.map((u) => u.arrays[k]!.data);
    if (srcs.every((d) => d instanceof Float32Array)) averageF32(dst, srcs as Float32Array[], weights, acc);
    else averageAny(dst, srcs, weights, acc);
    out.push({ dtype: 'f4', shape: [...shape], data: dst });
  }
  return out;
}

/** The arrays as float64 copies (the working precision of the strategies beyond FedAvg). */
export function toFloat64(arrays: NDArray[]): Float64Array[] {
  return arrays.map((a) => Float64Array.from(a.data as unknown as ArrayLike<number>));
}

/** float64 working arrays back to float32 NDArrays with the shapes of `like`. */
export function toFloat32Arrays(like: NDArray[], data: Float64Array[]): NDArray[] {
  return like.map((a, k) => ({ dtype: 'f4', shape: [...a.shape], data: Float32Array.from(data[k]!) }));
}

/**
 * Example-weighted mean loss (Flower's weighted_loss_avg). Throws on an empty list, numExamples ≤ 0
 * or a loss that is not a finite number.
 */
export function weightedLossAverage(results: Array<{ numExamples: number; loss: number }>): number {
  if (results.length === 0) throw new RangeError('weightedLossAverage: no results (need at least 1)');
  let total = 0;
  let sum = 0;
  results.forEach((r, c) => {
    checkNumExamples(r.numExamples, `weightedLossAverage: client ${c}`);
    if (typeof r.loss !== 'number' || !Number.isFinite(r.loss)) {
      throw new RangeError(
        `weightedLossAverage: client ${c} loss must be a finite number, got ${String(r.loss)}`,
      );
    }
    total += r.numExamples;
    sum += r.numExamples * r.loss;
  });
  return sum / total;
}

/**
 * Example-weighted mean of every numeric metric (number or bigint). Each key is averaged over the
 * clients that reported it, weighted by their numExamples; strings, booleans and bytes are dropped.
 * Throws on numExamples ≤ 0 (naming the client index).
 */
export function weightedMetricsAverage(results: Array<{ numExamples: number; metrics: Metrics }>): Metrics {
  const sums = new Map<string, { sum: number; weight: number }>();
  results.forEach((r, c) => {
    checkNumExamples(r.numExamples, `weightedMetricsAverage: client ${c}`);
    for (const [key, value] of Object.entries(r.metrics)) {
      let v: number;
      if (typeof value === 'number') v = value;
      else if (typeof value === 'bigint') v = Number(value);
      else continue;
      if (!Number.isFinite(v)) continue;
      const s = sums.get(key) ?? { sum: 0, weight: 0 };
      s.sum += r.numExamples * v;
      s.weight += r.numExamples;
      sums.set(key, s);
    }
  });
  const out: Metrics = {};
  for (const [key, s] of sums) out[key] = s.sum / s.weight;
  return out;
}
