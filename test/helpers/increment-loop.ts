// The `increment` command shared by the worker scripts (state-worker.ts, sqlite-worker.ts,
// postgres-worker.ts), whatever storage they run it on.
import { writeSync } from 'node:fs';
import { ConflictError, type PluginStateStorage } from '../../src/index.js';

/** What an increment run prints at the end. */
export interface IncrementResult {
  acked: number;
  conflicts: number;
  revisions: number[];
}

/** Prints one line synchronously, so it is out before anything that follows (even a hang) happens. */
export function print(value: unknown): void {
  writeSync(1, `${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
}

/**
 * Opens `store`, prints "ready", waits for "go" (the next line `readLine` returns), then does `count`
 * compare-and-set increments of data.count on `id`, retrying on ConflictError (any other error
 * fails the process); closes the store and prints {"acked","conflicts","revisions"}.
 */
export async function incrementCommand(
  store: PluginStateStorage,
  id: string,
  count: number,
  readLine: () => Promise<string | undefined>,
): Promise<void> {
  await store.open?.();
  print('ready');
  if ((await readLine()) !== 'go') throw new Error('expected "go"');
  const result = await incrementLoop(store, id, count);
  await store.close?.();
  print(result);
}

/** `count` acknowledged compare-and-set increments of data.count on `id`, retrying on conflicts. */
export async function incrementLoop(
  store: PluginStateStorage,
  id: string,
  count: number,
): Promise<IncrementResult> {
  let acked = 0;
  let conflicts = 0;
  const revisions: number[] = [];
  while (acked < count) {
    const current = await store.loadState(id);
    const value = (current?.data as { count?: number } | undefined)?.count ?? 0;
    try {
      const saved = await store.saveState(
        { pluginId: id, data: { count: value + 1, by: process.pid }, lastModified: new Date() },
        { expectedRevision: current?.revision ?? 0 },
      );
      acked++;
      revisions.push(saved.revision!);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      conflicts++;
    }
  }
  return { acked, conflicts, revisions };
}
