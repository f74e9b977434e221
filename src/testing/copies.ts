import assert from 'node:assert/strict';
import type { JsonValue } from '../core/types.js';
import { newId, type Suite, stateOf } from './harness.js';
import { assertStored } from './revisions.js';

interface Doc {
  [key: string]: JsonValue;
  list: JsonValue[];
  inner: { [key: string]: JsonValue };
}

const original = (): Doc => ({ list: [1, 2, { deep: 'x' }], inner: { name: 'kept' } });

/** Mutates every level of a document the way a careless caller would. */
function vandalize(doc: Doc): void {
  doc.list.push('added');
  (doc.list[2] as { deep: string }).deep = 'changed';
  doc.inner.name = 'changed';
  doc.extra = true;
}

/** Nothing a caller holds aliases what is stored, in either direction. */
export function copyTests(suite: Suite): void {
  suite.describe('copies', () => {
    suite.test('mutating the data after saving it does not change what is stored', async (store) => {
      const id = newId();
      const state = stateOf(id, original());
      await store.saveState(state);
      vandalize(state.data as Doc);
      state.lastModified.setTime(0);
      state.version = 9;
      const loaded = await store.loadState(id);
      assert.deepStrictEqual(loaded?.data, original());
      assert.notEqual(loaded?.lastModified.getTime(), 0, 'lastModified was copied');
      assert.equal(loaded?.version, 1, 'version was copied');
    });

    suite.test('mutating what loadState returned does not change what is stored', async (store) => {
      const id = newId();
      await store.saveState(stateOf(id, original()));
      const first = await store.loadState(id);
      vandalize(first?.data as Doc);
      first?.lastModified.setTime(0);
      await assertStored(store, id, original(), 1, 'after mutating a loaded copy');
      const again = await store.loadState(id);
      assert.notEqual(again?.lastModified.getTime(), 0, 'lastModified is a fresh Date on each load');
      assert.notEqual(again?.data, first?.data, 'each load returns its own copy');
    });

    suite.test('mutating what listStates returned does not change what is stored', async (store) => {
      const id = newId();
      await store.saveState(stateOf(id, original()));
      const [listed] = await store.listStates();
      vandalize(listed?.data as Doc);
      listed?.lastModified.setTime(0);
      const [again] = await store.listStates();
      assert.deepStrictEqual(again?.data, original(), 'listStates after mutating a listed copy');
      assert.notEqual(again?.lastModified.getTime(), 0);
      await assertStored(store, id, original(), 1, 'loadState after mutating a listed copy');
    });

    suite.test('mutating what saveState returned does not change what is stored', async (store) => {
      const id = newId();
      const saved = await store.saveState(stateOf(id, original()));
      vandalize(saved.data as Doc);
      saved.lastModified.setTime(0);
      await assertStored(store, id, original(), 1, 'after mutating the save result');
      assert.notEqual((await store.loadState(id))?.lastModified.getTime(), 0);
    });

    suite.test("saveState's result is a copy, not the caller's own data object", async (store) => {
      // DESIGN.md: what saveState returns is a copy the caller may mutate freely, so mutating it
      // must not reach back into the object the caller passed in either.
      const id = newId();
      const input = original();
      const saved = await store.saveState(stateOf(id, input));
      assert.notEqual(saved.data, input, 'saveState returned the very object it was given');
      vandalize(saved.data as Doc);
      assert.deepStrictEqual(input, original(), "mutating the result changed the caller's input");
    });
  });
}
