// Deterministic IID partitioning: a seeded shuffle of a split's indices, cut into `cohsize`
// contiguous chunks whose sizes differ by at most one (the first `count % cohsize` chunks take
// one extra). The chunks of one (cohsize, seed) are disjoint and together cover the split.

/** mulberry32: a small, fast, seedable PRNG; returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace(a: Int32Array, random: () => number): Int32Array {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/** Indices (ascending, for sequential reads) of partition `part` (0-based) of `cohsize`. */
export function partitionIndices(count: number, part: number, cohsize: number, seed: number): Int32Array {
  if (!Number.isInteger(cohsize) || cohsize < 1) {
    throw new Error(`partition: cohsize must be an integer ≥ 1, got ${cohsize}`);
  }
  if (!Number.isInteger(part) || part < 0 || part >= cohsize) {
    throw new Error(
      `partition: part must be an integer in 0 … ${cohsize - 1} (cohsize ${cohsize}), got ${part}`,
    );
  }
  if (cohsize > count) {
    throw new Error(
      `partition: cohsize ${cohsize} exceeds the ${count} samples of the split; allowed: 1 … ${count}`,
    );
  }
  const all = Int32Array.from({ length: count }, (_, i) => i);
  shuffleInPlace(all, seededRandom(seed));
  const base = Math.floor(count / cohsize);
  const extra = count % cohsize;
  const start = part * base + Math.min(part, extra);
  const size = base + (part < extra ? 1 : 0);
  return all.slice(start, start + size).sort();
}
