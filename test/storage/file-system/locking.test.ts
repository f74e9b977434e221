import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FileSystemStateStorage, pluginIdFromName } from '../../../src/index.js';
import { tempDir } from '../../helpers/temp-dir.js';

const id = pluginIdFromName('test.locking');
const ownerFiles = (dir: string) => readdirSync(dir).filter((name) => name.startsWith('.owner-'));

describe('file storage locks', () => {
  it('keeps one owner file per writing instance, and removes it on close', async (t) => {
    const dir = tempDir(t);
    const store = new FileSystemStateStorage(dir);
    await store.loadState(id);
    assert.deepEqual(ownerFiles(dir), [], 'reading needs no owner file');
    await store.saveState({ pluginId: id, data: 1, lastModified: new Date() });
    await store.saveState({ pluginId: id, data: 2, lastModified: new Date() });
    assert.equal(ownerFiles(dir).length, 1);
    assert.ok(!readdirSync(dir).some((name) => name.endsWith('.lock')), 'no lock outlives its save');
    await store.close();
    assert.deepEqual(ownerFiles(dir), []);
  });

  it('serializes two instances of one process on the same state: every save gets its own revision', async (t) => {
    const dir = tempDir(t);
    const a = new FileSystemStateStorage(dir);
    const b = new FileSystemStateStorage(dir);
    t.after(async () => {
      await a.close();
      await b.close();
    });
    const saves = Array.from({ length: 60 }, (_, i) =>
      (i % 2 === 0 ? a : b).saveState({ pluginId: id, data: i, lastModified: new Date() }),
    );
    const revisions = (await Promise.all(saves)).map((saved) => saved.revision).sort((x, y) => x! - y!);
    assert.deepEqual(
      revisions,
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    assert.equal((await a.loadState(id))?.revision, 60);
  });

  it('recreates its owner file if it was removed by hand while the store is open', async (t) => {
    const dir = tempDir(t);
    const store = new FileSystemStateStorage(dir);
    t.after(() => store.close());
    await store.saveState({ pluginId: id, data: 1, lastModified: new Date() });
    const { rmSync } = await import('node:fs');
    for (const name of ownerFiles(dir)) rmSync(`${dir}/${name}`);
    const saved = await store.saveState({ pluginId: id, data: 2, lastModified: new Date() });
    assert.equal(saved.revision, 2);
  });
});
