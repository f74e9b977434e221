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
import { PostgresFixture } from '../helpers/postgres-server.js';
import { tempDir } from '../helpers/temp-dir.js';

const id = pluginIdFromName('test.open-storage');

/** The history a store was built with (GuardedStorage keeps it as `historyLimit`). */
const historyOf = (storage: PluginStateStorage) =>
  (storage as unknown as { historyLimit: number }).historyLimit;

/** Saves `count` revisions of `id` and returns the revision numbers listRevisions gives. */
async function revisionsAfter(storage: PluginStateStorage, count: number): Promise<number[]> {
  for (let n = 1; n <= count; n++)
    await storage.saveState({ pluginId: id, data: { n }, lastModified: new Date() });
  return (await storage.listRevisions!(id)).map((info) => info.revision);
}

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

describe('openStorage(url): the history=N parameter', () => {
  it('memory:?history=N keeps N replaced revisions', async () => {
    const storage = await openStorage('memory:?history=1');
    assert.ok(storage instanceof MemoryStateStorage);
    assert.equal(historyOf(storage), 1);
    assert.deepEqual(await revisionsAfter(storage, 4), [4, 3]);
    await storage.close?.();
    const plain = await openStorage('memory:');
    assert.equal(historyOf(plain), 10, 'the default without the parameter');
    await plain.close?.();
  });

  it('file: takes it after a path and after a file:// URL; the folder name does not include it', async (t) => {
    const dir = tempDir(t);
    const plain = (await openStorage(`file:${join(dir, 'a')}?history=2`)) as FileSystemStateStorage;
    assert.equal(plain.baseDir, join(dir, 'a'));
    assert.equal(historyOf(plain), 2);
    assert.deepEqual(await revisionsAfter(plain, 5), [5, 4, 3]);
    await plain.close();
    const url = (await openStorage(
      `${pathToFileURL(join(dir, 'b')).href}?history=0`,
    )) as FileSystemStateStorage;
    assert.equal(url.baseDir, join(dir, 'b'));
    assert.deepEqual(await revisionsAfter(url, 3), [3]);
    await url.close();
  });

  it('the URL’s value overrides options.history', async (t) => {
    const storage = await openStorage(`file:${tempDir(t)}?history=3`, { history: 7 });
    assert.equal(historyOf(storage), 3);
    await storage.close?.();
    const fromOptions = await openStorage(`file:${tempDir(t)}`, { history: 7 });
    assert.equal(historyOf(fromOptions), 7, 'options.history without the parameter');
    await fromOptions.close?.();
  });

  it('sqlite: takes it after a file and after :memory:', async (t) => {
    const file = join(tempDir(t), 'states.db');
    const storage = await openStorage(`sqlite:${file}?history=4`);
    assert.equal(historyOf(storage), 4);
    await roundTrip(storage);
    await storage.close?.();
    assert.ok(existsSync(file), 'the file is named without the parameter');
    const inMemory = await openStorage('sqlite::memory:?history=0');
    assert.equal(historyOf(inMemory), 0);
    await roundTrip(inMemory);
    await inMemory.close?.();
  });

  it('postgres: takes it beside schema and table, and does not send it to the server', async (t) => {
    const fixture = new PostgresFixture();
    t.after(() => fixture.cleanup());
    const server = await fixture.server();
    const url = new URL(server.url);
    url.searchParams.set('schema', fixture.schema);
    url.searchParams.set('table', 'open_history');
    url.searchParams.set('history', '5');
    const storage = await openStorage(url.toString());
    assert.equal(storage.constructor.name, 'PostgresStateStorage');
    assert.equal(historyOf(storage), 5);
    // Opened (tables created) and queried: the server accepted the connection string without it.
    assert.equal(await storage.loadState(id), undefined);
    await storage.close?.();
  });

  const bad: Array<[string, RegExp]> = [
    ['-1', /"-1"/],
    ['abc', /"abc"/],
    ['1.5', /"1.5"/],
    ['', /""/],
    ['10001', /"10001"/],
    ['1e3', /"1e3"/],
  ];
  for (const [value, shown] of bad) {
    for (const base of [
      'memory:',
      'file:./never-created',
      'sqlite:./never.db',
      'postgres://app:s3cret@127.0.0.1:1/db',
    ]) {
      it(`refuses history=${JSON.stringify(value)} on ${base.split(':')[0]} with a ValidationError, before any I/O`, async () => {
        await assert.rejects(openStorage(`${base}?history=${value}`), (error: unknown) => {
          assert.ok(error instanceof ValidationError, String(error));
          assert.match(
            error.message,
            /"history" must be given once, as a whole number of revisions from 0 to 10000/,
          );
          assert.match(error.message, shown);
          assert.doesNotMatch(error.message, /s3cret/);
          return true;
        });
      });
    }
  }

  it('refuses history given twice, and any other parameter on memory:, file: and sqlite:', async () => {
    await assert.rejects(openStorage('file:./never-created?history=1&history=2'), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, /given once.*got 2 values/);
      return true;
    });
    for (const url of [
      'memory:?histroy=3',
      'file:./never-created?mode=fast',
      'sqlite:./never.db?history=1&x=2',
    ]) {
      await assert.rejects(openStorage(url), (error: unknown) => {
        assert.ok(error instanceof ValidationError, url);
        assert.match(error.message, /the parameter "\w+" is not known \(the only one is "history"/);
        return true;
      });
    }
    assert.ok(!existsSync('./never-created') && !existsSync('./never.db'), 'nothing was created');
  });
});
