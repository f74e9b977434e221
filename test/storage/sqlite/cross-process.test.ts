import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { type PluginState, StorageError } from '../../../src/index.js';
import { child, stateOf, storeAt, tempDatabase } from './helpers.js';

const PROCESSES = 4;
const INCREMENTS = 50;

/** Every state as "id → [data, revision]", to compare lists from different processes. */
function view(states: PluginState[]): Map<string, unknown> {
  return new Map(states.map((state) => [state.pluginId, [state.data, state.revision]]));
}

describe('SqliteStateStorage across processes', () => {
  it(`${PROCESSES} processes × ${INCREMENTS} compare-and-set increments on one id lose nothing`, async (t) => {
    // The children race to create the schema too: the database file does not exist yet.
    const path = tempDatabase(t);
    const id = randomUUID();
    const children = Array.from({ length: PROCESSES }, () =>
      child(t, ['increment', path, id, String(INCREMENTS)]),
    );
    for (const worker of children) assert.equal(await worker.nextLine(), 'ready');
    for (const worker of children) worker.send('go');
    // A child stops at the first error that is not a ConflictError (a surfaced SQLITE_BUSY would be one).
    const results = await Promise.all(
      children.map(async (worker) => {
        const result = await worker.nextJson<{ acked: number; conflicts: number; revisions: number[] }>(
          60_000,
        );
        await worker.finish();
        return result;
      }),
    );
    const total = PROCESSES * INCREMENTS;
    assert.deepEqual(
      results.map((result) => result.acked),
      Array(PROCESSES).fill(INCREMENTS),
    );
    const revisions = results.flatMap((result) => result.revisions).sort((a, b) => a - b);
    assert.deepEqual(
      revisions,
      Array.from({ length: total }, (_, index) => index + 1),
      'each revision acked once',
    );
    const final = await storeAt(t, path).loadState(id);
    assert.equal(final?.revision, total);
    assert.equal(
      (final!.data as { count: number }).count,
      total,
      'the counter equals the acknowledged increments',
    );
    t.diagnostic(`conflicts retried: ${results.map((result) => result.conflicts).join(', ')}`);
  });

  it('a list in one process sees every save and delete another process acknowledged', async (t) => {
    const path = tempDatabase(t);
    const reader = storeAt(t, path);
    const writer = child(t, ['serve', path]);
    const ids = Array.from({ length: 6 }, () => randomUUID());
    const expected = new Map<string, unknown>();
    assert.deepEqual(await reader.listStates(), [], 'a warm, empty cache to begin with');
    let seed = 7;
    const next = () => {
      seed = (seed * 48271) % 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let round = 0; round < 60; round++) {
      const id = ids[Math.floor(next() * ids.length)]!;
      if (next() < 0.3) {
        await writer.ask({ op: 'delete', id });
        expected.delete(id);
      } else {
        // A fixed time, so that a delete followed by a save gives a row with the same revision and
        // time but other data: only the bytes tell them apart.
        const data = { round, text: 'é'.repeat(round % 5) };
        const answer = await writer.ask<{ revision: number }>({ op: 'save', id, data, lastModified: 1_000 });
        expected.set(id, [data, answer.revision]);
      }
      if (round % 3 === 0) {
        const loaded = await reader.loadState(id);
        assert.deepEqual(
          loaded && [loaded.data, loaded.revision],
          expected.get(id),
          `round ${round}: a load`,
        );
      }
      assert.deepEqual(view(await reader.listStates()), expected, `round ${round}: the list in this process`);
      const loaded = await reader.loadState(id);
      assert.deepEqual(
        loaded && [loaded.data, loaded.revision],
        expected.get(id),
        `round ${round}: a load after the list`,
      );
      if (round % 4 === 0) {
        // This process writes too, so that its own writes and the other's interleave in the cache.
        const own = ids[(round / 4) % ids.length]!;
        const saved = await reader.saveState({
          pluginId: own,
          data: { own: round },
          lastModified: new Date(1_000),
        });
        expected.set(own, [{ own: round }, saved.revision]);
      }
    }
    // And the other way round: the child lists what this process saved.
    const mine = randomUUID();
    await reader.saveState(stateOf(mine, 'from the parent'));
    const listed = await writer.ask<{ states: PluginState[] }>({ op: 'list' });
    assert.ok(listed.states.some((state) => state.pluginId === mine && state.data === 'from the parent'));
    await writer.finish();
  });

  it('waits out a write lock held by another process without blocking the event loop', async (t) => {
    const path = tempDatabase(t);
    const store = storeAt(t, path);
    const id = randomUUID();
    await store.saveState(stateOf(id, 'before'));
    const holder = child(t, ['hold-lock', path]);
    assert.equal(await holder.nextLine(), 'locked');

    // WAL: readers are not blocked by the writer.
    assert.equal((await store.loadState(id))?.data, 'before');

    let last = performance.now();
    let longestGap = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
    }, 2);
    t.after(() => clearInterval(ticker));
    const started = performance.now();
    const saving = store.saveState(stateOf(id, 'after the lock'));
    await new Promise((resolve) => setTimeout(resolve, 400));
    holder.send('release');
    const saved = await saving;
    clearInterval(ticker);
    assert.equal(saved.revision, 2);
    assert.ok(performance.now() - started >= 400, 'the save waited for the lock');
    assert.ok(
      longestGap < 100,
      `the event loop kept running while the save waited (longest gap ${longestGap} ms)`,
    );
    assert.equal(await holder.nextLine(), 'released');
    await holder.finish();
  });

  it('fails with a StorageError naming the file once the lock is held past busyTimeoutMs', async (t) => {
    const path = tempDatabase(t);
    const id = randomUUID();
    await storeAt(t, path).saveState(stateOf(id, 'before'));
    const store = storeAt(t, path, { busyTimeoutMs: 250 });
    await store.open();
    const holder = child(t, ['hold-lock', path]);
    assert.equal(await holder.nextLine(), 'locked');
    for (const [what, operation] of [
      ['saveState', () => store.saveState(stateOf(id, 'blocked'))],
      ['deleteState', () => store.deleteState(id)],
    ] as const) {
      const started = performance.now();
      const error = await operation().then(
        () => assert.fail(`${what} resolved while another process held the lock`),
        (reason: unknown) => reason as Error,
      );
      const waited = performance.now() - started;
      assert.ok(error instanceof StorageError, `${what}: ${String(error)}`);
      assert.match(error.message, /locked by another process/);
      assert.ok(error.message.includes(path), `${what}: the message names the file: ${error.message}`);
      assert.ok(waited >= 240 && waited < 2_000, `${what} waited about busyTimeoutMs (${waited} ms)`);
    }
    holder.send('release');
    await holder.finish();
    assert.equal((await store.loadState(id))?.data, 'before', 'nothing was changed');
    assert.equal(
      (await store.saveState(stateOf(id, 'now'))).revision,
      2,
      'works again once the lock is gone',
    );
  });
});
