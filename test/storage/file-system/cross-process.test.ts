// The file backend shared by real processes: each child is `node --import tsx test/helpers/state-worker.ts`.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileSystemStateStorage, StorageError } from '../../../src/index.js';
import { Child, runWorker } from '../../helpers/processes.js';
import { namesIn, statesOnDisk, tempDir } from '../../helpers/temp-dir.js';

/** Whether a path exists, without following it: a lock is a symlink to a name that is not a file. */
function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return false;
    throw error; // anything else is a broken test environment, not an absent file
  }
}

const leftovers = (dir: string) => readdirSync(dir).filter((name) => /\.tmp-|\.lock/.test(name));

describe('file storage across processes', () => {
  it('keeps a state saved by a process that has exited, revision included', async (t) => {
    const dir = tempDir(t);
    const id = randomUUID();
    const first = await runWorker<{ revision: number }>(['save', dir, id, '{"theme":"dark","n":[1,2]}']);
    assert.equal(first.revision, 1);
    // A second process continues from the revision stored in the file.
    const second = await runWorker<{ revision: number }>(['save', dir, id, '{"theme":"light","n":[3]}']);
    assert.equal(second.revision, 2);

    const store = new FileSystemStateStorage(dir);
    t.after(() => store.close());
    const loaded = await store.loadState(id);
    assert.deepEqual(loaded?.data, { theme: 'light', n: [3] });
    assert.equal(loaded?.revision, 2);
    assert.deepEqual(
      (await store.listStates()).map((s) => [s.pluginId, s.revision]),
      [[id, 2]],
    );
    const next = await store.saveState({ pluginId: id, data: 'parent', lastModified: new Date() });
    assert.equal(next.revision, 3);
    assert.deepEqual(leftovers(dir), []);
  });

  it('loses no increment when four processes compare-and-set one id', async (t) => {
    const dir = tempDir(t);
    const id = randomUUID();
    const perProcess = 50;
    const children = Array.from({ length: 4 }, () => new Child(['increment', dir, id, String(perProcess)]));
    t.after(() => Promise.all(children.map((child) => child.kill())));
    // Start them together, so that their read-modify-write cycles really overlap.
    for (const child of children) assert.equal(await child.nextLine(), 'ready');
    for (const child of children) child.send('go');
    const results = await Promise.all(
      children.map((child) => child.nextJson<{ acked: number; conflicts: number; revisions: number[] }>()),
    );
    await Promise.all(children.map((child) => child.finish()));

    const total = perProcess * children.length;
    for (const result of results) assert.equal(result.acked, perProcess);
    // Every acknowledged save got its own revision: none was overwritten by another process.
    const revisions = results.flatMap((result) => result.revisions).sort((a, b) => a - b);
    assert.deepEqual(
      revisions,
      Array.from({ length: total }, (_, i) => i + 1),
    );
    const conflicts = results.reduce((sum, result) => sum + result.conflicts, 0);
    assert.ok(conflicts > 0, 'overlapping compare-and-set cycles must have conflicted at least once');

    const store = new FileSystemStateStorage(dir);
    t.after(() => store.close());
    const final = await store.loadState(id);
    assert.deepEqual((final?.data as { count?: number } | undefined)?.count, total);
    assert.equal(final?.revision, total);
    assert.deepEqual(leftovers(dir), []);
  });

  it("lists another process's saves and deletes as soon as it reports them", async (t) => {
    const dir = tempDir(t);
    const cached = new FileSystemStateStorage(dir); // the default, inotify-backed list index
    const uncached = new FileSystemStateStorage(dir, { listCache: false });
    t.after(() => Promise.all([cached.close(), uncached.close()]));
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    assert.deepEqual(await cached.listStates(), []); // the index is built and listening from here on

    const child = new Child(['serve', dir]);
    t.after(() => child.kill());
    const expected = new Map<string, { revision: number; data: unknown }>();
    for (let round = 0; round < 24; round++) {
      const id = ids[round % ids.length]!;
      if (round % 5 === 4 && expected.has(id)) {
        child.send({ op: 'delete', id });
        assert.deepEqual(await child.nextJson(), { op: 'delete', id });
        expected.delete(id);
      } else {
        const data = { round, text: `round ${round}` };
        child.send({ op: 'save', id, data });
        const reply = await child.nextJson<{ revision: number }>();
        expected.set(id, { revision: reply.revision, data });
      }
      // Listed at once, from the callback that delivered the child's report.
      for (const store of [cached, uncached]) {
        const listed = new Map((await store.listStates()).map((s) => [s.pluginId, s]));
        assert.deepEqual(
          [...listed.keys()].sort(),
          [...expected.keys()].sort(),
          `round ${round}: the ids listed`,
        );
        for (const [key, want] of expected) {
          assert.equal(listed.get(key)?.revision, want.revision, `round ${round}: revision of ${key}`);
          assert.deepEqual(listed.get(key)?.data, want.data, `round ${round}: data of ${key}`);
        }
      }
    }
    await child.finish();
  });

  it('takes over the lock of a process killed inside a save, and sweeps its temp file', async (t) => {
    const dir = tempDir(t);
    const id = randomUUID();
    const store = new FileSystemStateStorage(dir);
    t.after(() => store.close());
    await store.open(); // opened before the child dies, so it meets the lock while saving

    const child = new Child(['hang-in-save', dir, id]);
    t.after(() => child.kill());
    assert.equal(await child.nextLine(), 'hanging');
    const lock = join(dir, `${id}.json.lock`);
    // The folder's names are in the message, should this ever fail again (it did once, under heavy load).
    assert.ok(present(lock), `the child holds the lock; the folder holds ${JSON.stringify(namesIn(dir))}`);
    assert.equal(namesIn(dir).filter((name) => name.includes('.tmp-')).length, 1, 'and has a temp file');

    // While its owner lives, the lock holds: a store with a short timeout gives up, naming the lock.
    const impatient = new FileSystemStateStorage(dir, { lockTimeoutMs: 300 });
    t.after(() => impatient.close());
    await assert.rejects(
      impatient.saveState({ pluginId: id, data: 'too early', lastModified: new Date() }),
      (error: unknown) =>
        error instanceof StorageError &&
        error.message.includes(lock) &&
        error.message.includes(`process ${child.process.pid}`),
    );
    assert.ok(present(lock), "a live owner's lock is never removed");
    assert.equal(namesIn(dir).filter((name) => name.includes('.tmp-')).length, 1, "nor a live writer's temp");

    await child.kill();
    const started = performance.now();
    const saved = await store.saveState({ pluginId: id, data: 'after the crash', lastModified: new Date() });
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2_000, `the dead owner's lock was taken over at once (${elapsed.toFixed(0)} ms)`);
    assert.equal(saved.revision, 1, "the killed child's save never happened");
    assert.ok(!present(lock), 'the lock is released after the save');

    const reopened = new FileSystemStateStorage(dir);
    t.after(() => reopened.close());
    assert.deepEqual((await reopened.loadState(id))?.data, 'after the crash');
    assert.deepEqual(leftovers(dir), [], 'opening swept the dead writer’s temp file');
    assert.deepEqual(namesIn(dir), [`${id}.json`]);
  });

  it('carries on promptly after a process is SIGKILLed in the middle of many saves', async (t) => {
    const dir = tempDir(t);
    const id = randomUUID();
    const child = new Child(['save-loop', dir, id]);
    t.after(() => child.kill());
    let last = 0;
    while (last < 30) last = (await child.nextJson<{ revision: number }>()).revision;
    await child.kill();
    // The child may have acknowledged more saves than read so far: take every line it printed.
    for (;;) {
      try {
        last = Math.max(last, (await child.nextJson<{ revision: number }>(1_000)).revision);
      } catch {
        break;
      }
    }

    const store = new FileSystemStateStorage(dir);
    t.after(() => store.close());
    const started = performance.now();
    const stored = await store.loadState(id); // intact: the old or the new file, never a mix
    assert.ok(stored, 'the state is there');
    // Every acknowledged save is kept; at most the one in flight at the kill landed after it.
    assert.ok(
      stored.revision! >= last && stored.revision! <= last + 1,
      `stored revision ${stored.revision}, last acknowledged ${last}`,
    );
    const saved = await store.saveState({ pluginId: id, data: 'survivor', lastModified: new Date() });
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2_000, `saved ${elapsed.toFixed(0)} ms after the kill, well under the lock timeout`);
    assert.equal(saved.revision, stored.revision! + 1);
    assert.deepEqual(leftovers(dir), [], 'no temp or lock file of the killed process is left');
    assert.deepEqual([...statesOnDisk(dir).keys()], [id]);
  });
});
