import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  FileSystemStateStorage,
  MemoryStateStorage,
  type PluginStateStorage,
  pluginIdFromName,
  StorageError,
  ValidationError,
} from '../../src/index.js';
import { openStorage } from '../../src/storage/open.js';
import { tempDir } from '../helpers/temp-dir.js';

const id = pluginIdFromName('test.open-storage');

async function roundTrip(storage: PluginStateStorage): Promise<void> {
  await storage.saveState({ pluginId: id, data: { ok: true }, lastModified: new Date() });
  assert.deepEqual((await storage.loadState(id))?.data, { ok: true });
}

describe('openStorage(url)', () => {
  it('memory: gives an open memory store', async () => {
    const storage = await openStorage('memory:');
    assert.ok(storage instanceof MemoryStateStorage);
    await roundTrip(storage);
    await storage.close?.();
  });

  it('file: takes a relative path, an absolute path and a file:// URL, and opens the folder at once', async (t) => {
    const dir = tempDir(t);
    for (const url of [`file:${join(dir, 'a')}`, pathToFileURL(join(dir, 'b')).href]) {
      const storage = await openStorage(url);
      assert.ok(storage instanceof FileSystemStateStorage);
      assert.ok(existsSync((storage as FileSystemStateStorage).baseDir), 'opened, not lazily');
      await roundTrip(storage);
      await storage.close?.();
    }
    const relative = (await openStorage('file:./relative-states')) as FileSystemStateStorage;
    t.after(async () => {
      await relative.close();
      const { rmSync } = await import('node:fs');
      rmSync(relative.baseDir, { recursive: true, force: true });
    });
    assert.equal(relative.baseDir, join(process.cwd(), 'relative-states'));
  });

  it('sqlite: gives a SQLite store in the named file', async (t) => {
    const file = join(tempDir(t), 'states.db');
    const storage = await openStorage(`sqlite:${file}`);
    assert.equal(storage.constructor.name, 'SqliteStateStorage');
    await roundTrip(storage);
    await storage.close?.();
    assert.ok(existsSync(file));
  });

  it('fails at open, with a typed error, when the place cannot be used', async (t) => {
    const file = join(tempDir(t), 'a-file');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, 'not a folder');
    await assert.rejects(openStorage(`file:${file}`), StorageError);
  });

  for (const [url, reason] of [
    ['', /empty/],
    ['states', /no scheme/],
    ['redis://127.0.0.1:6379', /"redis:" is not supported/],
    ['file:', /no path/],
    ['memory:extra', /nothing after the colon/],
    ['s3://bucket/prefix', /not supported/],
  ] as const) {
    it(`refuses ${JSON.stringify(url)} with a ValidationError listing the supported schemes`, async () => {
      await assert.rejects(openStorage(url), (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.match(error.message, reason);
        assert.match(error.message, /memory:.*file:.*sqlite:.*postgres:/);
        return true;
      });
    });
  }

  it('never echoes a password from a refused URL', async () => {
    await assert.rejects(openStorage('mysql://admin:s3cret@db:3306/x'), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.doesNotMatch(error.message, /s3cret/);
      assert.match(error.message, /admin:\*\*\*@/);
      return true;
    });
  });
});
