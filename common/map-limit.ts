// Runs an async function over a list with a bound on how many run at once (shell batches per
// namespace, node program starts, probes). What a failure does is the caller's choice:
//   'finish' (default) every item still runs; the first failure is thrown once all have settled
//            (setting up a network: each namespace gets its commands, the first error is reported);
//   'stop'   no item starts after a failure; the ones already running settle, then the first
//            failure is thrown (starting node programs: nothing more starts once one failed).

export interface MapLimitOptions {
  onFailure?: 'finish' | 'stop';
}

export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
  opts: MapLimitOptions = {},
): Promise<R[]> {
  const stopOnFailure = opts.onFailure === 'stop';
  const results: R[] = new Array(items.length);
  const errors: unknown[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !(stopOnFailure && errors.length > 0)) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
  return results;
}
