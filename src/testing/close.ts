import assert from 'node:assert/strict';
import { StorageError } from '../core/errors.js';
import type { PluginStateStorage } from '../core/storage.js';
import { newId, rejectsWith, type Suite, show, stateOf } from './harness.js';

function closeOf(store: PluginStateStorage): () => Promise<void> {
  assert.equal(typeof store.close, 'function', 'a conforming storage has close()');
  return () => store.close!();
}

/** Every operation after close() is a StorageError (code STORAGE) saying the store is closed. */
async function assertClosed(store: PluginStateStorage, when: string): Promise<void> {
  const id = newId();
  const operations: [string, () => Promise<unknown>][] = [
    ['saveState', () => store.saveState(stateOf(id, 1))],
    ['loadState', () => store.loadState(id)],
    ['deleteState', () => store.deleteState(id)],
    ['listStates', () => store.listStates()],
  ];
  if (typeof store.open === 'function') operations.push(['open', () => store.open!()]);
  for (const [name, operation] of operations) {
    const error = await rejectsWith(`${name} ${when}`, StorageError, 'STORAGE', operation);
    assert.match(error.message, /closed/, `${name} ${when}: the message says the store is closed`);
  }
}

/** close(): idempotent, waits for work in flight, and refuses everything afterwards. */
export function closeTests(suite: Suite): void {
  suite.describe('close', () => {
    suite.test('close() twice, or twice at once, is not an error', async (store) => {
      await store.saveState(stateOf(newId(), 1));
      const close = closeOf(store);
      await Promise.all([close(), close()]);
      await close();
    });

    suite.test('closing a store that was never used is not an error', async (store) => {
      const close = closeOf(store);
      await close();
      await close();
      await assertClosed(store, 'after closing an unused store');
    });

    suite.test(
      'every operation after close() is a StorageError saying the store is closed',
      async (store) => {
        const id = newId();
        await store.saveState(stateOf(id, 'stored'));
        await closeOf(store)();
        await assertClosed(store, 'after close()');
        await closeOf(store)();
        await assertClosed(store, 'after a second close()');
      },
    );

    for (const warm of [false, true]) {
      const which = warm ? 'an open store' : 'a store not opened yet';
      suite.testScoped(`close() waits for the operations already in flight, on ${which}`, async (scope) => {
        const store = await scope.open();
        const id = newId();
        if (warm) await store.saveState(stateOf(id, 0));
        const base = warm ? 1 : 0;
        const settled: string[] = [];
        const track = (name: string, operation: Promise<unknown>) =>
          operation.then(
            (value) => {
              settled.push(name);
              return value;
            },
            (error: unknown) => {
              settled.push(name);
              throw error;
            },
          );
        const inFlight = [
          ...Array.from({ length: 10 }, (_, call) =>
            track(`save ${call}`, store.saveState(stateOf(id, call))),
          ),
          track('save other', store.saveState(stateOf(newId(), 'other'))),
          track('load', store.loadState(id)),
          track('list', store.listStates()),
          track('delete', store.deleteState(newId())),
        ];
        await closeOf(store)();
        assert.equal(
          settled.length,
          inFlight.length,
          `unsettled when close() resolved: ${inFlight.length - settled.length}`,
        );
        const results = await Promise.allSettled(inFlight);
        const failed = results.flatMap((result) =>
          result.status === 'rejected' ? [show(result.reason)] : [],
        );
        assert.deepEqual(failed, [], 'operations called before close() complete');
        const revisions = results
          .slice(0, 10)
          .map((result) =>
            result.status === 'fulfilled' ? (result.value as { revision?: number }).revision : 0,
          );
        assert.deepEqual(
          revisions,
          Array.from({ length: 10 }, (_, call) => base + call + 1),
          'the saves in flight were applied in call order',
        );
      });
    }
  });
}
