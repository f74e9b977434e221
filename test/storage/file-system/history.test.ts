// The file storage's history on disk: `<id>.json.~<revision>` hard links beside the state, the
// `~last` marker a delete leaves, and how every other part of the store leaves them alone.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  type FileSystemApi,
  FileSystemStateStorage,
  type FileSystemStorageOptions,
  type JsonValue,
  nodeFileSystem,
  SerializationError,
  type StateReport,
} from '../../../src/index.js';
import { Child } from '../../helpers/processes.js';
import { namesIn, tempDir } from '../../helpers/temp-dir.js';

const WHEN = new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789));

/** The history files of `id` in `dir`, by name, sorted by revision (`~last` at the end). */
function historyNames(dir: string, id: string): string[] {
  const order = (name: string) => Number(name.slice(name.lastIndexOf('~') + 1)) || Number.MAX_SAFE_INTEGER;
  return readdirSync(dir)
    .filter((name) => name.startsWith(`${id}.json.~`))
    .sort((a, b) => order(a) - order(b));
}

const ino = (path: string) => lstatSync(path).ino;

function open(t: TestContext, dir: string, options: FileSystemStorageOptions = {}) {
  const reports: StateReport[] = [];
  const store = new FileSystemStateStorage(dir, { onReport: (report) => reports.push(report), ...options });
  t.after(() => store.close());
  return { store, reports };
}

async function saveRevisions(store: FileSystemStateStorage, id: string, count: number, from = 1) {
  for (let n = from; n < from + count; n++)
    await store.saveState({ pluginId: id, data: { n }, lastModified: WHEN });
}

async function revisionsOf(store: FileSystemStateStorage, id: string): Promise<string[]> {
  return (await store.listRevisions(id)).map((info) => `${info.revision}${info.current ? '*' : ''}`);
}

describe('file storage history on disk', () => {
  it('keeps each replaced revision as a hard link of the file that held it, mode 0600', async (t) => {
    const dir = tempDir(t);
    const { store } = open(t, dir);
    const id = randomUUID();
    const path = join(dir, `${id}.json`);
    const inodes: number[] = [];
    for (let n = 1; n <= 3; n++) {
      await store.saveState({ pluginId: id, data: { n }, lastModified: WHEN });
      inodes.push(ino(path));
    }
    assert.deepEqual(historyNames(dir, id), [`${id}.json.~1`, `${id}.json.~2`]);
    assert.equal(ino(join(dir, `${id}.json.~1`)), inodes[0], '~1 is the file that held revision 1');
    assert.equal(ino(join(dir, `${id}.json.~2`)), inodes[1], '~2 is the file that held revision 2');
    assert.equal(new Set(inodes).size, 3, 'each save wrote a new file');
    for (const name of [`${id}.json`, ...historyNames(dir, id)]) {
      const stats = lstatSync(join(dir, name));
      assert.equal(stats.mode & 0o777, 0o600, `${name} is 0600`);
      assert.equal(stats.nlink, 1, `${name} has one name: nothing else links to it`);
    }
    const kept = JSON.parse(readFileSync(join(dir, `${id}.json.~2`), 'utf8')) as {
      revision: number;
      data: JsonValue;
    };
    assert.deepEqual([kept.revision, kept.data], [2, { n: 2 }], 'a history file is a state file as it was');
  });

  it('a replaced file others could read is kept 0600, like every file the storage writes', async (t) => {
    const dir = tempDir(t);
    const { store } = open(t, dir);
    const id = randomUUID();
    const path = join(dir, `${id}.json`);
    await saveRevisions(store, id, 1);
    chmodSync(path, 0o644); // loosened by hand, or written by another tool
    await saveRevisions(store, id, 1, 2);
    assert.equal(lstatSync(join(dir, `${id}.json.~1`)).mode & 0o777, 0o600);
    chmodSync(path, 0o640);
    await store.deleteState(id);
    assert.equal(lstatSync(join(dir, `${id}.json.~2`)).mode & 0o777, 0o600, 'a deleted one too');
  });

  it('drops revisions beyond `history` as saves go on, and keeps none with history 0', async (t) => {
    const dir = tempDir(t);
    const id = randomUUID();
    const first = open(t, dir, { history: 2 }).store;
    await saveRevisions(first, id, 6);
    assert.deepEqual(historyNames(dir, id), [`${id}.json.~4`, `${id}.json.~5`]);
    await first.close();
    // Reopened with more history, then with less: the run of kept revisions follows.
    const wider = open(t, dir, { history: 5 }).store;
    await saveRevisions(wider, id, 3, 7);
    assert.deepEqual(
      historyNames(dir, id),
      [4, 5, 6, 7, 8].map((n) => `${id}.json.~${n}`),
    );
    await wider.close();
    const narrower = open(t, dir, { history: 1 }).store;
    await saveRevisions(narrower, id, 1, 10);
    assert.deepEqual(historyNames(dir, id), [`${id}.json.~9`], 'every older one went in one save');
    await narrower.close();
    const none = open(t, dir, { history: 0 }).store;
    await saveRevisions(none, id, 1, 11);
    assert.deepEqual(historyNames(dir, id), []);
    assert.deepEqual(await revisionsOf(none, id), ['11*']);
  });

  it('a delete links the last revision into history and leaves the ~last marker; the next save removes it', async (t) => {
    const dir = tempDir(t);
    const { store } = open(t, dir);
    const id = randomUUID();
    const path = join(dir, `${id}.json`);
    await saveRevisions(store, id, 3);
    const last = ino(path);
    await store.deleteState(id);
    assert.ok(!existsSync(path));
    assert.deepEqual(
      historyNames(dir, id),
      [1, 2, 3, 'last'].map((n) => `${id}.json.~${n}`),
    );
    assert.equal(ino(join(dir, `${id}.json.~3`)), last);
    assert.equal(ino(join(dir, `${id}.json.~last`)), last, 'the marker is the deleted revision too');
    await store.deleteState(id); // deleting nothing changes nothing
    assert.deepEqual(
      historyNames(dir, id),
      [1, 2, 3, 'last'].map((n) => `${id}.json.~${n}`),
    );
    const saved = await store.saveState({ pluginId: id, data: 'again', lastModified: WHEN });
    assert.equal(saved.revision, 4);
    assert.deepEqual(
      historyNames(dir, id),
      [1, 2, 3].map((n) => `${id}.json.~${n}`),
      'the marker is gone',
    );
  });

  it('with history 0 a delete removes every kept revision and the numbering starts again', async (t) => {
    const dir = tempDir(t);
    const id = randomUUID();
    const keeping = open(t, dir).store;
    await saveRevisions(keeping, id, 3);
    await keeping.close();
    const { store } = open(t, dir, { history: 0 });
    await store.deleteState(id);
    assert.deepEqual(namesIn(dir), []);
    assert.deepEqual(historyNames(dir, id), []);
    assert.equal((await store.saveState({ pluginId: id, data: 'new', lastModified: WHEN })).revision, 1);
  });

  it('delete then restore (undo) across a reopen, and from another process', async (t) => {
    const dir = tempDir(t);
    const id = randomUUID();
    const first = open(t, dir).store;
    await saveRevisions(first, id, 3);
    await first.deleteState(id);
    await first.close();

    const second = open(t, dir).store;
    assert.equal(await second.loadState(id), undefined);
    assert.deepEqual(await revisionsOf(second, id), ['3', '2', '1']);
    const undone = await second.restoreRevision(id, 3, { expectedRevision: 0 });
    assert.deepEqual([undone.revision, undone.data], [4, { n: 3 }]);
    assert.deepEqual(await revisionsOf(second, id), ['4*', '3', '2', '1']);
    assert.ok(!existsSync(join(dir, `${id}.json.~last`)));

    // Another process deletes it; this one sees the delete in history and undoes it again.
    const child = new Child(['serve', dir]);
    t.after(() => child.kill());
    assert.deepEqual(await child.ask({ op: 'delete', id }), { op: 'delete', id });
    assert.deepEqual(await revisionsOf(second, id), ['4', '3', '2', '1']);
    const again = await second.restoreRevision(id, 4);
    assert.deepEqual([again.revision, again.data], [5, { n: 3 }]);
    const next = await child.ask<{ revision: number }>({ op: 'save', id, data: 'from the child' });
    assert.equal(next.revision, 6, 'the other process continues the numbering');
    await child.finish();
  });
});

describe('file storage history: faults', () => {
  it('a history file that cannot be dropped does not fail the save: it is reported, and dropped later', async (t) => {
    const dir = tempDir(t);
    const id = randomUUID();
    const faults = { on: false };
    const fs: FileSystemApi = {
      ...nodeFileSystem,
      unlinkSync: (path) => {
        if (faults.on && String(path).includes('.json.~')) {
          throw Object.assign(new Error(`EIO: injected, unlink '${String(path)}'`), { code: 'EIO' });
        }
        nodeFileSystem.unlinkSync(path);
      },
    };
    const { store, reports } = open(t, dir, { fs, history: 2 });
    await saveRevisions(store, id, 3);
    faults.on = true;
    const saved = await store.saveState({ pluginId: id, data: { n: 4 }, lastModified: WHEN });
    assert.equal(saved.revision, 4);
    assert.deepEqual((await store.loadState(id))?.data, { n: 4 });
    const report = reports.find((r) => r.operation === 'saveState');
    assert.ok(report?.message.includes('could not drop old revisions'), report?.message);
    assert.equal(report?.recovered, true);
    assert.deepEqual(
      historyNames(dir, id),
      [1, 2, 3].map((n) => `${id}.json.~${n}`),
      'one too many, for now',
    );
    assert.deepEqual(await revisionsOf(store, id), ['4*', '3', '2'], 'a list shows at most `history`');
    faults.on = false;
    await saveRevisions(store, id, 1, 5);
    assert.deepEqual(
      historyNames(dir, id),
      [3, 4].map((n) => `${id}.json.~${n}`),
      'the next save drops both',
    );
  });
});

describe('file storage history: crash leftovers', () => {
  it('a ~<rev> link of the current file (a crash between link and rename) is listed once and reused', async (t) => {
    const dir = tempDir(t);
    const { store } = open(t, dir);
    const id = randomUUID();
    const path = join(dir, `${id}.json`);
    await saveRevisions(store, id, 2);
    linkSync(path, join(dir, `${id}.json.~2`)); // what a save killed after its link leaves
    assert.deepEqual(await revisionsOf(store, id), ['2*', '1'], 'the current revision is listed once');
    assert.deepEqual((await store.loadRevision(id, 2))?.data, { n: 2 });
    const replaced = ino(path);
    assert.equal((await store.saveState({ pluginId: id, data: { n: 3 }, lastModified: WHEN })).revision, 3);
    assert.equal(ino(join(dir, `${id}.json.~2`)), replaced, 'the same link, kept as revision 2');
    assert.deepEqual(await revisionsOf(store, id), ['3*', '2', '1']);
    assert.deepEqual((await store.loadRevision(id, 2))?.data, { n: 2 });
  });

  it('the same leftover before a delete is fine too', async (t) => {
    const dir = tempDir(t);
    const { store } = open(t, dir);
    const id = randomUUID();
    const path = join(dir, `${id}.json`);
    await saveRevisions(store, id, 2);
    linkSync(path, join(dir, `${id}.json.~2`));
    await store.deleteState(id);
    assert.deepEqual(await revisionsOf(store, id), ['2', '1']);
    assert.equal((await store.saveState({ pluginId: id, data: 'back', lastModified: WHEN })).revision, 3);
  });

  it('a stray ~<rev> that is another file is not listed, and is replaced when its revision is reached', async (t) => {
    const dir = tempDir(t);
    const { store } = open(t, dir);
    const id = randomUUID();
    await saveRevisions(store, id, 2);
    // A file from outside the library's lineage, at the number the next replaced revision takes.
    writeFileSync(join(dir, `${id}.json.~3`), readFileSync(join(dir, `${id}.json.~1`)), { mode: 0o600 });
    assert.deepEqual(await revisionsOf(store, id), ['2*', '1']);
    assert.equal(await store.loadRevision(id, 3), undefined, 'not kept: above the current revision');
    await saveRevisions(store, id, 2, 3);
    assert.deepEqual(await revisionsOf(store, id), ['4*', '3', '2', '1']);
    assert.deepEqual(
      (await store.loadRevision(id, 3))?.data,
      { n: 3 },
      'the stray was replaced by revision 3',
    );
  });

  it('a ~last marker left beside a current file (a crash after the save) changes nothing', async (t) => {
    const dir = tempDir(t);
    const { store } = open(t, dir);
    const id = randomUUID();
    await saveRevisions(store, id, 4);
    linkSync(join(dir, `${id}.json.~2`), join(dir, `${id}.json.~last`));
    assert.deepEqual(await revisionsOf(store, id), ['4*', '3', '2', '1']);
    assert.equal((await store.saveState({ pluginId: id, data: { n: 5 }, lastModified: WHEN })).revision, 5);
    await store.deleteState(id);
    assert.equal(
      ino(join(dir, `${id}.json.~last`)),
      ino(join(dir, `${id}.json.~5`)),
      'the delete replaced it',
    );
    assert.equal((await store.saveState({ pluginId: id, data: 'back', lastModified: WHEN })).revision, 6);
  });

  it('a reopen sweeps dead temp files but never history files or the marker', async (t) => {
    const dir = tempDir(t);
    const id = randomUUID();
    const deleted = randomUUID();
    const first = open(t, dir).store;
    await saveRevisions(first, id, 3);
    await saveRevisions(first, deleted, 2);
    await first.deleteState(deleted);
    await first.close();
    // A temp link a dead process left while replacing a history file, and one of its temp files.
    linkSync(join(dir, `${id}.json.~1`), join(dir, `${id}.json.tmp-999999-1-0badf00d`));
    writeFileSync(join(dir, `${deleted}.json.tmp-999999-1-cafe`), 'half a save');
    const before = readdirSync(dir)
      .filter((name) => name.includes('.json.~'))
      .sort();
    assert.equal(before.length, 5);

    const { store } = open(t, dir);
    await store.open();
    assert.deepEqual(
      readdirSync(dir)
        .filter((name) => name.includes('.json.~'))
        .sort(),
      before,
    );
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.includes('.tmp-')),
      [],
      'the dead temp files are swept',
    );
    assert.deepEqual(await revisionsOf(store, id), ['3*', '2', '1']);
    assert.deepEqual(await revisionsOf(store, deleted), ['2', '1']);
  });

  it('a process killed while saving and deleting leaves a history that lists, loads and goes on', async (t) => {
    const dir = tempDir(t);
    const id = randomUUID();
    const child = new Child(['save-loop', dir, id]);
    t.after(() => child.kill());
    let last = 0;
    while (last < 25) last = (await child.nextJson<{ revision: number }>()).revision;
    await child.kill();
    const { store, reports } = open(t, dir);
    const listed = await store.listRevisions(id);
    const current = listed[0]!;
    assert.ok(
      current.current && current.revision >= last,
      `current ${current.revision}, acknowledged ${last}`,
    );
    assert.deepEqual(
      listed.slice(1).map((info) => info.revision),
      Array.from({ length: 10 }, (_, i) => current.revision - 1 - i),
      'ten consecutive revisions below the current one',
    );
    for (const info of listed) {
      const loaded = await store.loadRevision(id, info.revision);
      assert.equal((loaded?.data as { i: number } | undefined)?.i, info.revision - 1);
    }
    assert.equal(
      (await store.saveState({ pluginId: id, data: 'next', lastModified: WHEN })).revision,
      current.revision + 1,
    );
    assert.deepEqual(reports, []);
  });
});

describe('file storage history: everything else ignores it', () => {
  for (const listCache of [true, false]) {
    it(`listStates (listCache: ${listCache}) lists current states only, before and after a reopen`, async (t) => {
      const dir = tempDir(t);
      const { store } = open(t, dir, { listCache });
      const kept = randomUUID();
      const deleted = randomUUID();
      await saveRevisions(store, kept, 4);
      await saveRevisions(store, deleted, 3);
      const listedIds = async (s: FileSystemStateStorage) =>
        (await s.listStates()).map((state) => [state.pluginId, state.revision]);
      assert.deepEqual(
        (await listedIds(store)).sort(),
        [
          [kept, 4],
          [deleted, 3],
        ].sort(),
      );
      await store.deleteState(deleted);
      assert.deepEqual(await listedIds(store), [[kept, 4]]);
      await store.close();
      const reopened = open(t, dir, { listCache }).store;
      assert.deepEqual(await listedIds(reopened), [[kept, 4]]);
      assert.deepEqual(namesIn(dir), [`${kept}.json`]);
    });
  }

  it('the open-time hygiene check does not report history files', async (t) => {
    const dir = tempDir(t);
    const id = randomUUID();
    const first = open(t, dir).store;
    await saveRevisions(first, id, 2);
    await first.close();
    chmodSync(dir, 0o711); // other users may enter: state files are looked at
    const { store, reports } = open(t, dir);
    await store.open();
    assert.deepEqual(reports, []);
    chmodSync(dir, 0o700);
  });
});

describe('file storage history: corrupt history files', () => {
  it('loadRevision of a corrupt history file is a SerializationError naming it; the list skips and reports it', async (t) => {
    const dir = tempDir(t);
    const { store, reports } = open(t, dir);
    const id = randomUUID();
    await saveRevisions(store, id, 3);
    const file = join(dir, `${id}.json.~1`);
    truncateSync(file, Math.floor(statSync(file).size / 2));
    const bytes = readFileSync(file);

    await assert.rejects(store.loadRevision(id, 1), (error: unknown) => {
      assert.ok(error instanceof SerializationError, String(error));
      assert.equal(error.location, file);
      assert.ok(error.message.includes(file) && error.message.includes(id), error.message);
      return true;
    });
    await assert.rejects(store.restoreRevision(id, 1), SerializationError);
    assert.deepEqual(await revisionsOf(store, id), ['3*', '2']);
    const skipped = reports.find((report) => report.operation === 'listRevisions');
    assert.ok(skipped, 'the skipped file is reported');
    assert.equal(skipped.pluginId, id);
    assert.equal(skipped.code, 'SERIALIZATION');
    assert.ok(skipped.error instanceof SerializationError);
    assert.ok(skipped.message.includes(file), skipped.message);
    assert.deepEqual(readFileSync(file), bytes, 'kept as it was');
    assert.deepEqual((await store.loadRevision(id, 2))?.data, { n: 2 }, 'the others still load');
  });

  it('a history file holding another revision than its name says is corrupt', async (t) => {
    const dir = tempDir(t);
    const { store, reports } = open(t, dir);
    const id = randomUUID();
    await saveRevisions(store, id, 3);
    renameSync(join(dir, `${id}.json.~2`), join(dir, `${id}.json.~1`)); // ~1 now holds revision 2
    await assert.rejects(store.loadRevision(id, 1), /named for revision 1 but holds revision 2/);
    assert.deepEqual(await revisionsOf(store, id), ['3*']);
    assert.equal(reports.length, 1);
  });

  it('a corrupt state file moved aside by a save keeps the numbering of its history', async (t) => {
    const dir = tempDir(t);
    const { store, reports } = open(t, dir);
    const id = randomUUID();
    await saveRevisions(store, id, 3);
    const path = join(dir, `${id}.json`);
    truncateSync(path, 10);
    const saved = await store.saveState({ pluginId: id, data: 'fresh', lastModified: WHEN });
    assert.equal(saved.revision, 3, 'one above the highest revision kept (2)');
    assert.ok(
      reports.some((report) => report.operation === 'saveState' && report.message.includes('revision 3')),
    );
    assert.deepEqual(await revisionsOf(store, id), ['3*', '2', '1']);
  });
});

describe('file storage history: purgeState', () => {
  it('removes every file of the id and nothing of another; corrupt copies kept aside stay', async (t) => {
    const dir = tempDir(t);
    const { store } = open(t, dir);
    const id = randomUUID();
    const other = randomUUID();
    const deleted = randomUUID();
    await saveRevisions(store, id, 4);
    await saveRevisions(store, other, 3);
    await saveRevisions(store, deleted, 2);
    await store.deleteState(deleted);
    const corrupt = `${id}.json.corrupt-2024-01-01T00-00-00.000Z`;
    writeFileSync(join(dir, corrupt), '{"cut', { mode: 0o600 });
    const othersBefore = readdirSync(dir)
      .filter((name) => name.startsWith(other))
      .sort();

    await store.purgeState(id);
    await store.purgeState(deleted);
    assert.deepEqual(
      readdirSync(dir)
        .filter((name) => name.startsWith(id) || name.startsWith(deleted))
        .sort(),
      [corrupt],
      'only the corrupt copy of id is left: the library never deletes corrupt bytes',
    );
    assert.deepEqual(
      readdirSync(dir)
        .filter((name) => name.startsWith(other))
        .sort(),
      othersBefore,
    );
    assert.deepEqual(await revisionsOf(store, other), ['3*', '2', '1']);
    assert.equal((await store.saveState({ pluginId: id, data: 'new', lastModified: WHEN })).revision, 1);
    assert.equal((await store.saveState({ pluginId: deleted, data: 'new', lastModified: WHEN })).revision, 1);
  });
});

describe('file storage history across processes', () => {
  it('reads history consistently while another process saves the same state', async (t) => {
    const dir = tempDir(t);
    const id = randomUUID();
    const child = new Child(['save-loop', dir, id]);
    t.after(() => child.kill());
    await child.nextJson(); // the state exists
    const { store, reports } = open(t, dir);
    let lists = 0;
    let loads = 0;
    const deadline = Date.now() + 1_500;
    while (Date.now() < deadline) {
      const listed = await store.listRevisions(id);
      lists++;
      assert.ok(listed[0]?.current, 'the current revision comes first');
      assert.ok(listed.slice(1).every((info) => !info.current));
      assert.ok(listed.length <= 11, `${listed.length} listed: the current one and at most 10 kept`);
      for (let i = 1; i < listed.length; i++) {
        assert.ok(listed[i]!.revision < listed[i - 1]!.revision, 'newest first, each once');
      }
      for (const info of listed) {
        const loaded = await store.loadRevision(id, info.revision);
        // Gone only if ten more saves dropped it meanwhile; never another revision's data.
        if (!loaded) continue;
        loads++;
        assert.equal(loaded.revision, info.revision);
        assert.equal((loaded.data as { i: number }).i, info.revision - 1);
      }
    }
    await child.kill();
    assert.ok(lists > 5 && loads > 5, `${lists} lists, ${loads} loads`);
    assert.deepEqual(reports, [], 'nothing was ever read half-written');
  });
});
