// Runs work over many items a few at a time: enough to overlap I/O, few enough to keep a server calm.

export const DEFAULT_CONCURRENCY = 8;

/**
 * Calls `work` on every item, at most `concurrency` at once, and resolves when all are done. The
 * first rejection stops starting new items and rejects once those running have finished.
 */
export async function forEachPooled<T>(
  items: readonly T[],
  work: (item: T, index: number) => Promise<void>,
  concurrency = DEFAULT_CONCURRENCY,
): Promise<void> {
  let next = 0;
  let failed = false;
  const errors: unknown[] = [];
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        await work(items[index]!, index);
      } catch (error) {
        failed = true;
        errors.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}
