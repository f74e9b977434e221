import assert from 'node:assert/strict';
import { ConflictError, SerializationError } from '../core/errors.js';
import type { JsonValue } from '../core/types.js';
import { byId, newId, rejectsWith, SOME_TIME, type Suite, show, stateOf } from './harness.js';
import { assertStored } from './revisions.js';

const TRICKY: JsonValue = {
  text: 'NUL \u0000, BOM \ufeff, emoji 😀, lone \ud800, separators \u2028\u2029',
  numbers: [0, Number.MAX_SAFE_INTEGER, 5e-324, 1e308],
  '': { constructor: 'x', 'e\u0301': 'nfd', é: 'nfc' },
};

/** Durable backends keep states across instances; others say so and start empty. */
export function persistenceTests(suite: Suite): void {
  const { persistent, sharedInstances } = suite.capabilities;
  suite.describe('persistence', () => {
    if (!persistent) {
      suite.testScoped('not persistent (declared): a store from the factory starts empty', async (scope) => {
        const first = await scope.open();
        await first.saveState(stateOf(newId(), 'only in the first store'));
        const second = await scope.open();
        assert.deepEqual(await second.listStates(), [], 'a new store shares nothing with an earlier one');
      });
      return;
    }

    suite.testScoped('states, versions, revisions and lastModified survive a reopen', async (scope) => {
      const first = await scope.open();
      const expected = [];
      for (let index = 0; index < 4; index++) {
        const id = newId();
        const lastModified = new Date(SOME_TIME.getTime() + index * 7);
        for (let save = 0; save <= index; save++) {
          await first.saveState({ pluginId: id, data: { index, save }, lastModified, version: index + 1 });
        }
        expected.push({
          pluginId: id,
          data: { index, save: index },
          lastModified,
          version: index + 1,
          revision: index + 1,
        });
      }
      const deleted = newId();
      await first.saveState(stateOf(deleted, 'deleted before the reopen'));
      await first.deleteState(deleted);
      await first.close?.();

      const second = await scope.reopen(first);
      for (const state of expected) {
        assert.deepStrictEqual(
          await second.loadState(state.pluginId),
          state,
          `loadState(${state.pluginId}) after reopen`,
        );
      }
      assert.equal(await second.loadState(deleted), undefined, 'a delete survives the reopen');
      assert.deepStrictEqual(byId(await second.listStates()), byId(expected), 'listStates after reopen');
    });

    suite.testScoped('revisions continue after a reopen, and compare-and-set still holds', async (scope) => {
      const first = await scope.open();
      const id = newId();
      await first.saveState(stateOf(id, 'one'));
      await first.saveState(stateOf(id, 'two'));
      await first.close?.();
      const second = await scope.reopen(first);
      for (const stale of [0, 1]) {
        const error = await rejectsWith(
          `expectedRevision ${stale} after reopen`,
          ConflictError,
          'CONFLICT',
          () => second.saveState(stateOf(id, 'lost'), { expectedRevision: stale }),
        );
        assert.equal(error.storedRevision, 2);
      }
      const saved = await second.saveState(stateOf(id, 'three'), { expectedRevision: 2 });
      assert.equal(saved.revision, 3);
    });

    suite.testScoped('unicode and edge JSON survive a reopen byte for byte', async (scope) => {
      const first = await scope.open();
      const id = newId();
      await first.saveState(stateOf(id, TRICKY));
      await first.saveState(stateOf(newId(), -0));
      await first.close?.();
      const second = await scope.reopen(first);
      await assertStored(second, id, TRICKY, 1, 'after reopen');
      const zero = (await second.listStates()).find((state) => state.pluginId !== id);
      assert.ok(zero && Object.is(zero.data, 0), `-0 reads back as 0 after reopen, got ${show(zero?.data)}`);
    });

    if (!sharedInstances) {
      suite.testScoped(
        'shared instances: not declared, so two open instances are not tested together',
        async () => {
          assert.equal(sharedInstances ?? false, false);
        },
      );
      return;
    }

    suite.testScoped('two open instances see each other’s saves and deletes', async (scope) => {
      const a = await scope.open();
      const b = await scope.reopen(a);
      const id = newId();
      await a.saveState(stateOf(id, 'from a'));
      assert.equal((await b.loadState(id))?.data, 'from a');
      assert.equal((await b.saveState(stateOf(id, 'from b'))).revision, 2, 'b continues a’s revisions');
      assert.equal((await a.loadState(id))?.data, 'from b');
      assert.deepEqual(
        (await a.listStates()).map((state) => state.revision),
        [2],
      );
      await b.deleteState(id);
      assert.equal(await a.loadState(id), undefined);
    });

    suite.testScoped('compare-and-set and revisions hold across two open instances', async (scope) => {
      const a = await scope.open();
      const b = await scope.reopen(a);
      const id = newId();
      await a.saveState(stateOf(id, 'base'));
      const attempts = Array.from({ length: 20 }, (_, call) =>
        (call % 2 === 0 ? a : b).saveState(stateOf(id, call), { expectedRevision: 1 }),
      );
      const results = await Promise.allSettled(attempts);
      const won = results.filter((result) => result.status === 'fulfilled').length;
      assert.equal(won, 1, 'exactly one compare-and-set wins across instances');
      for (const result of results) {
        if (result.status === 'rejected')
          assert.ok(result.reason instanceof ConflictError, show(result.reason));
      }
      const other = newId();
      const saves = await Promise.all(
        Array.from({ length: 30 }, (_, call) => (call % 2 === 0 ? a : b).saveState(stateOf(other, call))),
      );
      const revisions = saves.map((saved) => saved.revision!).sort((x, y) => x - y);
      assert.deepEqual(
        revisions,
        Array.from({ length: 30 }, (_, index) => index + 1),
        'no revision given twice',
      );
    });
  });
}

/** A corrupt record is a SerializationError, is never deleted by the library, and spoils nothing else. */
export function corruptTests(suite: Suite): void {
  const { corrupt, listWithCorruptRecord } = suite.capabilities;
  suite.describe('corrupt records', () => {
    if (!corrupt) {
      suite.testScoped(
        'not declared: the backend gives no corrupt() hook, so corruption is not tested',
        async () => {
          assert.equal(corrupt, undefined);
        },
      );
      return;
    }
    suite.test(
      'reading a corrupt record is a SerializationError naming it; the rest still works',
      async (store) => {
        const bad = newId();
        const good = newId();
        await store.saveState(stateOf(bad, { soon: 'corrupt' }));
        await store.saveState(stateOf(good, { still: 'fine' }));
        await corrupt(store, bad);

        const error = await rejectsWith(
          'loadState of a corrupt record',
          SerializationError,
          'SERIALIZATION',
          () => store.loadState(bad),
        );
        assert.ok(error.message.includes(bad), `the message names the record: ${error.message}`);
        await assertStored(store, good, { still: 'fine' }, 1, 'another state');
        assert.equal((await store.saveState(stateOf(newId(), 1))).revision, 1, 'saving another id works');

        if (listWithCorruptRecord === 'throw') {
          await rejectsWith('listStates with a corrupt record', SerializationError, 'SERIALIZATION', () =>
            store.listStates(),
          );
        } else {
          const listed = await store.listStates();
          assert.ok(
            !listed.some((state) => state.pluginId === bad),
            'listStates leaves the corrupt record out',
          );
          assert.ok(
            listed.some((state) => state.pluginId === good),
            'listStates still lists the others',
          );
        }

        await store.deleteState(bad);
        assert.equal(await store.loadState(bad), undefined, 'an explicit delete removes a corrupt record');
        assert.equal((await store.saveState(stateOf(bad, 'fresh'))).revision, 1, 'the id is usable again');
      },
    );
  });
}
