// Byzantine-robust aggregation as pure functions (Flower's aggregate.py: aggregate_median,
// aggregate_trimmed_avg, aggregate_krum, aggregate_bulyan): coordinate-wise median and trimmed
// mean, Krum's choice of the update closest to its neighbours (and MultiKrum's average of the
// best few), and Bulyan's Krum selection followed by a mean around the median. Inputs are
// validated like weightedAverage's; outputs are float32, computed in float64.

import type { NDArray } from '../types.ts';
import { type WeightedUpdate, toFloat32Arrays, validateUpdates, weightedAverage } from './aggregate.ts';
import { bulyanMinClients } from '../../../../common/strategy-params.ts';

export { bulyanMinClients };

const flat = (a: NDArray): ArrayLike<number> => a.data as unknown as ArrayLike<number>;

/**
 * For every coordinate of every array, sorts the clients' values and reduces the sorted column to
 * one number: the shared loop of median and trimmed mean.
 */
function coordinateWise(
  updates: WeightedUpdate[],
  where: string,
  reduce: (sorted: Float64Array) => number,
): NDArray[] {
  validateUpdates(updates, where);
  const n = updates.length;
  const column = new Float64Array(n);
  const like = updates[0]!.arrays;
  const out = like.map((a, k) => {
    const srcs = updates.map((u) => flat(u.arrays[k]!));
    const dst = new Float64Array(a.data.length);
    for (let i = 0; i < dst.length; i++) {
      for (let c = 0; c < n; c++) column[c] = srcs[c]![i]!;
      column.sort();
      dst[i] = reduce(column);
    }
    return dst;
  });
  return toFloat32Arrays(like, out);
}

/** Coordinate-wise median over the clients (numpy's: the mean of the two middle values when even). */
export function coordinateMedian(updates: WeightedUpdate[]): NDArray[] {
  return coordinateWise(updates, 'coordinateMedian', (s) => {
    const n = s.length;
    return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  });
}

/** How many values trimmed mean cuts from each end: ⌊beta·n⌋ (Flower's int(proportiontocut · nobs)). */
export function trimmedCount(beta: number, n: number): number {
  return Math.trunc(beta * n);
}

/** Coordinate-wise mean after cutting ⌊beta·n⌋ of the lowest and of the highest values (scipy's trim_mean). */
export function trimmedMean(updates: WeightedUpdate[], beta: number): NDArray[] {
  if (!(beta >= 0 && beta < 0.5)) throw new RangeError(`trimmedMean: beta is ${beta}; allowed: [0, 0.5)`);
  const cut = trimmedCount(beta, updates.length);
  return coordinateWise(updates, 'trimmedMean', (s) => {
    let sum = 0;
    for (let i = cut; i < s.length - cut; i++) sum += s[i]!;
    return sum / (s.length - 2 * cut);
  });
}

/** Squared Euclidean distances between the clients' flattened updates, as an n×n matrix. */
export function pairwiseSquaredDistances(updates: WeightedUpdate[]): Float64Array[] {
  const n = updates.length;
  const d = Array.from({ length: n }, () => new Float64Array(n));
  const nArrays = updates[0]?.arrays.length ?? 0;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      let sum = 0;
      for (let k = 0; k < nArrays; k++) {
        const x = flat(updates[a]!.arrays[k]!);
        const y = flat(updates[b]!.arrays[k]!);
        for (let i = 0; i < x.length; i++) {
          const t = x[i]! - y[i]!;
          sum += t * t;
        }
      }
      d[a]![b] = sum;
      d[b]![a] = sum;
    }
  }
  return d;
}

/**
 * Krum scores: for each client, the sum of its squared distances to its max(1, n − f − 2)
 * nearest other clients (Flower sorts the row and skips its first entry, the zero to itself).
 */
export function krumScores(distances: Float64Array[], numMalicious: number): number[] {
  const n = distances.length;
  const closest = Math.max(1, n - numMalicious - 2);
  return distances.map((row) => {
    const sorted = Float64Array.from(row).sort();
    let s = 0;
    for (let i = 1; i <= closest && i < n; i++) s += sorted[i]!;
    return s;
  });
}

/** Indices of the `count` lowest scores, lowest first; ties keep the lower index. */
function lowest(scores: number[], count: number): number[] {
  return scores
    .map((s, i) => [s, i] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .slice(0, count)
    .map(([, i]) => i);
}

/**
 * Krum (toKeep 0): the single update with the lowest score. MultiKrum (toKeep ≥ 1): the
 * example-weighted mean of the toKeep lowest-scored updates. Returns the arrays and the indices kept.
 */
export function krum(
  updates: WeightedUpdate[],
  numMalicious: number,
  toKeep: number,
): { arrays: NDArray[]; kept: number[] } {
  validateUpdates(updates, 'krum');
  const scores = krumScores(pairwiseSquaredDistances(updates), numMalicious);
  const kept = lowest(scores, toKeep > 0 ? toKeep : 1);
  const chosen = kept.map((i) => updates[i]!);
  // one update averaged with itself is itself, as float32
  return { arrays: weightedAverage(toKeep > 0 ? chosen : [{ ...chosen[0]!, numExamples: 1 }]), kept };
}

/**
 * Bulyan (El Mhamdi et al. 2018, as Flower's aggregate_bulyan with Krum as the first rule):
 * pick θ = n − 2f updates by repeated Krum over the remaining ones, then per coordinate average
 * the β = θ − 2f values closest to the selection's median. Returns the arrays and the θ indices picked.
 */
export function bulyan(
  updates: WeightedUpdate[],
  numMalicious: number,
): { arrays: NDArray[]; kept: number[] } {
  validateUpdates(updates, 'bulyan');
  const n = updates.length;
  if (n < bulyanMinClients(numMalicious)) {
    throw new RangeError(
      `bulyan: ${n} updates with num_malicious_clients ${numMalicious}; needs at least 4·${numMalicious}+3 = ${bulyanMinClients(numMalicious)}`,
    );
  }
  const theta = n - 2 * numMalicious;
  const beta = theta - 2 * numMalicious;
  const all = pairwiseSquaredDistances(updates);
  let remaining = updates.map((_, i) => i);
  const kept: number[] = [];
  for (let t = 0; t < theta; t++) {
    const sub = remaining.map((a) => Float64Array.from(remaining, (b) => all[a]![b]!));
    const best = lowest(krumScores(sub, numMalicious), 1)[0]!;
    kept.push(remaining[best]!);
    remaining = remaining.filter((_, i) => i !== best);
  }
  const selected = kept.map((i) => updates[i]!);
  const median = coordinateMedian(selected);
  const like = updates[0]!.arrays;
  const values = new Float64Array(theta);
  const order = Array.from({ length: theta }, (_, i) => i);
  const out = like.map((a, k) => {
    const med = flat(median[k]!);
    const srcs = selected.map((u) => flat(u.arrays[k]!));
    const dst = new Float64Array(a.data.length);
    for (let i = 0; i < dst.length; i++) {
      for (let c = 0; c < theta; c++) values[c] = srcs[c]![i]!;
      const m = med[i]!;
      order.sort((p, q) => Math.abs(values[p]! - m) - Math.abs(values[q]! - m) || p - q);
      let sum = 0;
      for (let j = 0; j < beta; j++) sum += values[order[j]!]!;
      dst[i] = sum / beta;
    }
    return dst;
  });
  return { arrays: toFloat32Arrays(like, out), kept };
}
