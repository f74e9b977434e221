import assert from 'node:assert/strict';
import { ConflictError } from '../core/errors.js';
import { assertRecord, byId, newId, type Suite, show, stateOf } from './harness.js';

const COUNT = 200;

/** Checks that exactly one of `results` fulfilled and every other one is a ConflictError. */
function assertOneWinner(
  results: PromiseSettledResult<unknown>[],
  expectedRevision: number,
  storedAfter: number,
): number {
  const winners = results.flatMap((result, index) => (result.status === 'fulfilled' ? [index] : []));
  assert.equal(winners.length, 1, `exactly one compare-and-set wins, got ${winners.length}`);
  for (const result of results) {
    if (result.status === 'fulfilled') continue;
    const error = result.reason;
    assert.ok(error instanceof ConflictError, `a losing save must be a ConflictError, got ${show(error)}`);
    assert.equal(error.code, 'CONFLICT');
    assert.equal(error.expectedRevision, expectedRevision);
    assert.equal(error.storedRevision, storedAfter, 'a loser sees the winner’s revision');
  }
  return winners[0]!;
}

/** Many operations at once on one store instance. */
export function concurrencyTests(suite: Suite): void {
  suite.describe('concurrency', () => {
    suite.test(
      `${COUNT} concurrent saves to one id get revisions 1..${COUNT} in call order`,
      async (store) => {
        const id = newId();
        const results = await Promise.all(
          Array.from({ length: COUNT }, (_, call) => store.saveState(stateOf(id, { call }))),
        );
        const revisions = results.map((saved) => saved.revision);
        assert.equal(new Set(revisions).size, COUNT, 'every save got its own revision');
        assert.deepEqual(
          revisions,
          Array.from({ length: COUNT }, (_, call) => call + 1),
          'one instance applies the saves of one id in call order',
        );
        results.forEach((saved, call) => {
          assert.deepEqual(saved.data, { call }, `save #${call} returned its own data`);
        });
        const loaded = await store.loadState(id);
        assert.equal(loaded?.revision, COUNT, 'the final stored revision');
        assert.deepStrictEqual(loaded?.data, { call: COUNT - 1 }, 'the last call wins');
      },
    );

    suite.test(`${COUNT} concurrent saves to distinct ids all land`, async (store) => {
      const ids = Array.from({ length: COUNT }, () => newId());
      const results = await Promise.all(ids.map((id, index) => store.saveState(stateOf(id, { index, id }))));
      for (const saved of results) assert.equal(saved.revision, 1);
      const listed = byId(await store.listStates());
      assert.equal(listed.length, COUNT, 'listStates sees every state');
      const expected = new Map(ids.map((id, index) => [id, index]));
      for (const state of listed) {
        assert.deepStrictEqual(state.data, { index: expected.get(state.pluginId), id: state.pluginId });
      }
      const loaded = await Promise.all(ids.map((id) => store.loadState(id)));
      loaded.forEach((state, index) => {
        assert.deepStrictEqual(state?.data, { index, id: ids[index] }, `loadState of id #${index}`);
      });
    });

    suite.test('operations on one id issued together apply in call order', async (store) => {
      const id = newId();
      const [first, seen, , gone, second, last] = await Promise.all([
        store.saveState(stateOf(id, 'a')),
        store.loadState(id),
        store.deleteState(id),
        store.loadState(id),
        store.saveState(stateOf(id, 'b')),
        store.loadState(id),
      ]);
      assert.equal(first.revision, 1);
      assert.equal(seen?.data, 'a', 'a load issued after a save sees it');
      assert.equal(gone, undefined, 'a load issued after a delete sees nothing');
      const afterDelete = suite.capabilities.history ? 2 : 1;
      assert.equal(second.revision, afterDelete, 'a save issued after a delete takes the next revision');
      assert.equal(last?.data, 'b');
    });

    suite.test('concurrent compare-and-set on one revision: exactly one wins', async (store) => {
      const id = newId();
      await store.saveState(stateOf(id, { winner: 'none' }));
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, call) =>
          store.saveState(stateOf(id, { winner: call }), { expectedRevision: 1 }),
        ),
      );
      const winner = assertOneWinner(results, 1, 2);
      const loaded = await store.loadState(id);
      assert.equal(loaded?.revision, 2);
      assert.deepStrictEqual(loaded?.data, { winner }, 'the stored data is the winner’s');
    });

    suite.test('concurrent compare-and-set with expectedRevision 0: exactly one creates', async (store) => {
      const id = newId();
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, call) => store.saveState(stateOf(id, call), { expectedRevision: 0 })),
      );
      const winner = assertOneWinner(results, 0, 1);
      assert.equal((await store.loadState(id))?.data, winner);
    });

    suite.test('listStates during concurrent saves returns only whole records', async (store) => {
      const ids = Array.from({ length: 100 }, () => newId());
      const payload = (index: number) => ({ index, text: 'x'.repeat(1000 + index) });
      const saves = ids.map((id, index) => store.saveState(stateOf(id, payload(index))));
      const lists = Array.from({ length: 10 }, () => store.listStates());
      await Promise.all(saves);
      const index = new Map(ids.map((id, position) => [id, position]));
      for (const listed of await Promise.all(lists)) {
        for (const state of listed) {
          assertRecord(state, 'a state listed during saves');
          const position = index.get(state.pluginId);
          assert.ok(position !== undefined, `listStates returned an unknown id ${state.pluginId}`);
          assert.deepStrictEqual(state.data, payload(position), 'a listed record is whole');
        }
      }
      assert.equal((await store.listStates()).length, ids.length);
    });
  });
}
