import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileSystemStateStorage, nodeFileSystem, pluginIdFromName } from '../../../src/index.js';
import { ChangeJournal, JOURNAL_FILE } from '../../../src/storage/file-system/change-journal.js';
import { Child, WORKER } from '../../helpers/processes.js';
import { tempDir } from '../../helpers/temp-dir.js';

const idA = pluginIdFromName('test.journal.a');
const idB = pluginIdFromName('test.journal.b');

const revisionsOf = async (store: FileSystemStateStorage) =>
  new Map((await store.listStates()).map((state) => [state.pluginId, state.revision]));

describe('the change journal behind the list cache', () => {
  it('sees thousands of saves another process made while this event loop was blocked', async (t) => {
    // An inotify queue holds 16,384 events and drops the rest silently; the journal is a file and
    // drops nothing. spawnSync blocks this process's event loop for the whole run of the child.
    const dir = tempDir(t);
    const store = new FileSystemStateStorage(dir);
    t.after(() => store.close());
    await store.saveState({ pluginId: idB, data: 'before', lastModified: new Date() });
    assert.deepEqual(await revisionsOf(store), new Map([[idB, 1]]));

    const count = 2500;
    const many = spawnSync(process.execPath, [
      '--import',
      'tsx',
      WORKER,
      'save-many',
      dir,
      idA,
      String(count),
    ]);
    assert.equal(many.status, 0, many.stderr.toString());
    const last = spawnSync(process.execPath, ['--import', 'tsx', WORKER, 'save', dir, idB, '"after"']);
    assert.equal(last.status, 0, last.stderr.toString());

    const listed = await store.listStates();
    const byId = new Map(listed.map((state) => [state.pluginId, state]));
    assert.equal(byId.get(idA)?.revision, count);
    assert.equal(byId.get(idB)?.revision, 2);
    assert.equal(byId.get(idB)?.data, 'after');
  });

  it('keeps re-reading a state while another process holds its lock, and settles once it is gone', async (t) => {
    const dir = tempDir(t);
    const store = new FileSystemStateStorage(dir);
    t.after(() => store.close());
    await store.saveState({ pluginId: idA, data: 'first', lastModified: new Date() });
    await store.listStates();

    const child = new Child(['hang-in-save', dir, idA]);
    t.after(() => child.kill());
    assert.equal(await child.nextLine(), 'hanging'); // intent recorded, lock held, rename not done
    assert.equal((await store.listStates())[0]?.data, 'first');

    await child.kill();
    assert.equal((await store.listStates())[0]?.data, 'first', 'the killed save never renamed');
    // Another instance (as another process would) saves; the list cache hears of it.
    const other = new FileSystemStateStorage(dir);
    t.after(() => other.close());
    await other.saveState({ pluginId: idA, data: 'second', lastModified: new Date() });
    const [state] = await store.listStates();
    assert.equal(state?.data, 'second');
    assert.equal(state?.revision, 2);
  });

  it('rescans when the journal is removed, and still lists every state', async (t) => {
    const dir = tempDir(t);
    const store = new FileSystemStateStorage(dir);
    t.after(() => store.close());
    await store.saveState({ pluginId: idA, data: 1, lastModified: new Date() });
    await store.listStates();
    unlinkSync(join(dir, JOURNAL_FILE));
    // A state written behind the library's back (as a restore by hand would) shows up on the rescan.
    const other = new FileSystemStateStorage(dir, { listCache: false });
    t.after(() => other.close());
    await other.saveState({ pluginId: idB, data: 2, lastModified: new Date() });
    unlinkSync(join(dir, JOURNAL_FILE));
    assert.deepEqual(
      await revisionsOf(store),
      new Map([
        [idA, 1],
        [idB, 1],
      ]),
    );
  });
});

describe('ChangeJournal', () => {
  it('hands a reader each recorded id once, in order', (t) => {
    const path = join(tempDir(t), JOURNAL_FILE);
    const writer = new ChangeJournal(nodeFileSystem, path);
    const reader = new ChangeJournal(nodeFileSystem, path);
    t.after(() => {
      writer.close();
      reader.close();
    });
    assert.deepEqual(reader.readChanges(), { rescan: true });
    assert.deepEqual(reader.readChanges(), { rescan: false, ids: [] });
    writer.recordIntent(idA);
    writer.recordIntent(idB);
    writer.recordIntent(idA);
    assert.deepEqual(reader.readChanges(), { rescan: false, ids: [idA, idB, idA] });
    assert.deepEqual(reader.readChanges(), { rescan: false, ids: [] });
  });

  it('leaves a line still being written for the next read', (t) => {
    const path = join(tempDir(t), JOURNAL_FILE);
    const reader = new ChangeJournal(nodeFileSystem, path);
    t.after(() => reader.close());
    reader.readChanges();
    appendFileSync(path, idA.slice(0, 10));
    assert.deepEqual(reader.readChanges(), { rescan: false, ids: [] });
    appendFileSync(path, `${idA.slice(10)}\n`);
    assert.deepEqual(reader.readChanges(), { rescan: false, ids: [idA] });
  });

  it('starts a fresh journal past its size limit; readers rescan once, then follow the new one', (t) => {
    const path = join(tempDir(t), JOURNAL_FILE);
    const writer = new ChangeJournal(nodeFileSystem, path, 100);
    const reader = new ChangeJournal(nodeFileSystem, path, 100);
    t.after(() => {
      writer.close();
      reader.close();
    });
    reader.readChanges();
    writer.recordIntent(idA);
    writer.recordIntent(idA);
    assert.deepEqual(reader.readChanges(), { rescan: false, ids: [idA, idA] });
    writer.recordIntent(idB); // 111 bytes: past the limit, so the journal is replaced
    assert.deepEqual(reader.readChanges(), { rescan: true });
    writer.recordIntent(idB);
    assert.deepEqual(reader.readChanges(), { rescan: false, ids: [idB] });
  });

  it('rescans when the journal was shortened behind its back', (t) => {
    const path = join(tempDir(t), JOURNAL_FILE);
    const writer = new ChangeJournal(nodeFileSystem, path);
    const reader = new ChangeJournal(nodeFileSystem, path);
    t.after(() => {
      writer.close();
      reader.close();
    });
    reader.readChanges();
    writer.recordIntent(idA);
    reader.readChanges();
    writeFileSync(path, '');
    assert.deepEqual(reader.readChanges(), { rescan: true });
  });
});
