// listStates and its inotify-backed index: whatever the index remembers, a list equals what is on disk.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs';
import { describe, it } from 'node:test';
import { FileSystemStateStorage, type PluginState } from '../../../src/index.js';
import { Child } from '../../helpers/processes.js';
import { statesOnDisk, tempDir } from '../../helpers/temp-dir.js';

/** id → { revision, data } of a list, to compare with what is on disk. */
function byId(states: PluginState[]): Map<string, { revision: number; data: unknown }> {
  const map = new Map<string, { revision: number; data: unknown }>();
  for (const state of states) {
    assert.ok(!map.has(state.pluginId), `listed twice: ${state.pluginId}`);
    map.set(state.pluginId, { revision: state.revision!, data: state.data });
  }
  return map;
}

function sorted(map: Map<string, unknown>): Array<[string, unknown]> {
  return [...map.entries()].sort(([a], [b]) => a.localeCompare(b));
}

async function assertListsDisk(dir: string, stores: FileSystemStateStorage[], label: string): Promise<void> {
  const disk = sorted(statesOnDisk(dir));
  for (const [i, store] of stores.entries()) {
    assert.deepEqual(
      sorted(byId(await store.listStates())),
      disk,
      `${label}: store ${i} lists what is on disk`,
    );
  }
}

/** A small deterministic generator, so a failing run can be repeated. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** Runs `body` from inside an I/O callback: the event loop's poll phase, where a host's code often runs. */
function fromIoCallback<T>(path: string, body: () => Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => stat(path, () => body().then(resolve, reject)));
}

describe('file storage listStates', () => {
  it('lists its own and a sibling instance’s saves and deletes at once, also from an I/O callback', async (t) => {
    const dir = tempDir(t);
    const writer = new FileSystemStateStorage(dir);
    const sibling = new FileSystemStateStorage(dir); // another instance in the same process
    t.after(() => Promise.all([writer.close(), sibling.close()]));
    const ids = [randomUUID(), randomUUID()];
    await writer.listStates();
    await sibling.listStates();
    for (let round = 0; round < 60; round++) {
      const id = ids[round % 2]!;
      await fromIoCallback(dir, async () => {
        if (round % 7 === 6) {
          await writer.deleteState(id);
          for (const store of [writer, sibling]) {
            assert.ok(
              !(await store.listStates()).some((s) => s.pluginId === id),
              `round ${round}: deleted ${id} is still listed`,
            );
          }
          return;
        }
        const saved = await writer.saveState({ pluginId: id, data: { round }, lastModified: new Date() });
        for (const [name, store] of [
          ['writer', writer],
          ['sibling', sibling],
        ] as const) {
          const listed = (await store.listStates()).find((s) => s.pluginId === id);
          assert.equal(
            listed?.revision,
            saved.revision,
            `round ${round}: ${name} lists the revision just saved`,
          );
          assert.deepEqual(listed?.data, { round });
        }
      });
    }
  });

  it('equals the files on disk after many saves and deletes, in process and by a child', async (t) => {
    const dir = tempDir(t);
    const cached = new FileSystemStateStorage(dir);
    const uncached = new FileSystemStateStorage(dir, { listCache: false });
    const small = new FileSystemStateStorage(dir, {
      listCache: { maxEntryBytes: 200, maxTotalBytes: 2_000 },
    });
    const stores = [cached, uncached, small];
    t.after(() => Promise.all(stores.map((store) => store.close())));
    const ids = Array.from({ length: 25 }, () => randomUUID());
    await assertListsDisk(dir, stores, 'empty');

    const next = random(0x5eed);
    for (let i = 0; i < 300; i++) {
      const id = ids[Math.floor(next() * ids.length)]!;
      const store = stores[i % stores.length]!;
      if (next() < 0.25) await store.deleteState(id);
      else {
        // Sizes on both sides of the small store's entry limit.
        const data = { i, pad: 'p'.repeat(Math.floor(next() * 400)) };
        await store.saveState({ pluginId: id, data, lastModified: new Date() });
      }
      if (i % 50 === 49) await assertListsDisk(dir, stores, `after ${i + 1} operations in process`);
    }

    const child = new Child(['serve', dir]);
    t.after(() => child.kill());
    for (const seed of [1, 2, 3]) {
      child.send({ op: 'churn', ids, seed, count: 150 });
      assert.equal((await child.nextJson()).done, 150);
      await assertListsDisk(dir, stores, `after the child's churn ${seed}`);
    }
    await child.finish();
    const fresh = new FileSystemStateStorage(dir);
    t.after(() => fresh.close());
    await assertListsDisk(dir, [...stores, fresh], 'at the end');
  });

  it('lists states larger than the cache entry limit with their current data', async (t) => {
    const dir = tempDir(t);
    const lister = new FileSystemStateStorage(dir, {
      listCache: { maxEntryBytes: 1024, maxTotalBytes: 4096 },
    });
    const writer = new FileSystemStateStorage(dir);
    t.after(() => Promise.all([lister.close(), writer.close()]));
    const big = randomUUID();
    const grows = randomUUID();
    const smalls = Array.from({ length: 6 }, () => randomUUID()); // together past maxTotalBytes
    for (const id of smalls)
      await writer.saveState({ pluginId: id, data: { pad: 'x'.repeat(700) }, lastModified: new Date() });
    await writer.saveState({
      pluginId: big,
      data: { v: 1, pad: 'b'.repeat(5_000) },
      lastModified: new Date(),
    });
    await writer.saveState({ pluginId: grows, data: { v: 1 }, lastModified: new Date() });
    await assertListsDisk(dir, [lister], 'first list');

    for (let v = 2; v <= 6; v++) {
      await writer.saveState({
        pluginId: big,
        data: { v, pad: 'b'.repeat(5_000) },
        lastModified: new Date(),
      });
      // `grows` moves across the entry limit and back.
      const pad = v % 2 === 0 ? 'g'.repeat(3_000) : '';
      await writer.saveState({ pluginId: grows, data: { v, pad }, lastModified: new Date() });
      await writer.saveState({
        pluginId: smalls[v % smalls.length]!,
        data: { v, pad: 'y'.repeat(700) },
        lastModified: new Date(),
      });
      const listed = byId(await lister.listStates());
      assert.deepEqual(listed.get(big), { revision: v, data: { v, pad: 'b'.repeat(5_000) } });
      assert.deepEqual(listed.get(grows), { revision: v, data: { v, pad } });
      await assertListsDisk(dir, [lister], `round ${v}`);
    }
    // What a list returns is the caller's to mutate: it changes nothing the next list returns.
    const first = await lister.listStates();
    for (const state of first) (state.data as Record<string, unknown>).pad = 'mutated';
    await assertListsDisk(dir, [lister], 'after mutating a listed copy');
  });
});
