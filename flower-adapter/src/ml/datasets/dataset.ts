// What one entry of the dataset table (registry.ts) provides: its shape, a check that its files
// are present (naming every expected file when not), and opening one split as a reader of chosen
// samples. Each dataset's file (handmnist.ts, idx.ts, cifar.ts) exports one; registry.ts
// partitions, normalizes and range-checks for all of them.

export type Split = 'train' | 'test';

export interface DatasetInfo {
  inputShape: [number, number, number];
  numClasses: number;
}

export type DatasetCheck = { ok: true } | { ok: false; message: string };

/** One split held in memory: HWC uint8 pixels and a label per sample. */
export interface ImageSplit {
  /** HWC uint8 pixels, count × height × width × channels */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  inputShape: [number, number, number];
}

/** One split opened: its size and shape, and a reader of the samples a partition picks. */
export interface SplitSource {
  count: number;
  inputShape: [number, number, number];
  /** The samples at the given indices (in that order), as HWC uint8 pixels + labels. */
  read(indices: ArrayLike<number>): { images: Uint8Array; labels: Uint8Array };
}

export interface Dataset {
  info: DatasetInfo;
  /** Whether the files are under `dataDir`; when not, a message naming the directory and every expected file. */
  check(dataDir: string): DatasetCheck;
  /** Opens `split` from `dataDir` (called after a passing check). */
  open(dataDir: string, split: Split): SplitSource;
}

/** A reader over a split already in memory (copies out the picked samples). */
export function inMemory(src: ImageSplit): SplitSource {
  const size = src.inputShape[0] * src.inputShape[1] * src.inputShape[2];
  return {
    count: src.count,
    inputShape: src.inputShape,
    read(indices) {
      const images = new Uint8Array(indices.length * size);
      const labels = new Uint8Array(indices.length);
      for (let k = 0; k < indices.length; k++) {
        const g = indices[k]!;
        images.set(src.images.subarray(g * size, (g + 1) * size), k * size);
        labels[k] = src.labels[g]!;
      }
      return { images, labels };
    },
  };
}
