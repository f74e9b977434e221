// Each error class the file backend can throw, through the file backend, with nothing stored changed.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ConflictError,
  FileSystemStateStorage,
  type JsonValue,
  PluginStateError,
  StorageError,
  ValidationError,
} from '../../../src/index.js';
import { namesIn, tempDir } from '../../helpers/temp-dir.js';

const badIds: unknown[] = [
  '',
  '../x',
  '../../etc/passwd',
  'not-a-uuid',
  `${randomUUID()}/..`,
  `${randomUUID()}.json`,
  42,
  null,
];

describe('file storage errors', () => {
  it('refuses a bad id with a ValidationError before any I/O', async (t) => {
    const base = join(tempDir(t), 'states');
    const store = new FileSystemStateStorage(base);
    t.after(() => store.close());
    for (const id of badIds) {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['saveState', () => store.saveState({ pluginId: id as string, data: 1, lastModified: new Date() })],
        ['loadState', () => store.loadState(id as string)],
        ['deleteState', () => store.deleteState(id as string)],
      ];
      for (const [operation, call] of calls) {
        await assert.rejects(call(), (error) => {
          assert.ok(error instanceof ValidationError, `${operation}(${String(id)}): ${String(error)}`);
          assert.equal(error.code, 'VALIDATION');
          assert.ok(error.message.startsWith(`${operation}: plugin id`), error.message);
          return true;
        });
      }
    }
    assert.equal(existsSync(base), false, 'not even the folder was created');
    await store.open();
    for (const id of badIds) {
      await assert.rejects(
        store.saveState({ pluginId: id as string, data: 1, lastModified: new Date() }),
        ValidationError,
      );
    }
    assert.deepEqual(readdirSync(base), [], 'no file was created for a bad id');
  });

  it('refuses data that is not plain JSON or over the limits, naming the path, and keeps what is stored', async (t) => {
    const dir = tempDir(t);
    const store = new FileSystemStateStorage(dir, { limits: { maxDepth: 8, maxBytes: 1_000 } });
    t.after(() => store.close());
    const id = randomUUID();
    await store.saveState({ pluginId: id, data: { ok: true }, lastModified: new Date() });
    const path = join(dir, `${id}.json`);
    const before = readFileSync(path);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    let deep: JsonValue = 0;
    for (let i = 0; i < 20; i++) deep = [deep];
    const refused: Array<[unknown, RegExp]> = [
      [{ items: [1, 2, 3, { when: new Date() }] }, /data\.items\[3\]\.when/],
      [{ a: undefined }, /data\.a/],
      [{ n: Number.NaN }, /data\.n/],
      [{ n: Number.POSITIVE_INFINITY }, /data\.n/],
      [{ big: 10n }, /data\.big/],
      [{ f: () => 1 }, /data\.f/],
      [{ m: new Map() }, /data\.m/],
      [cycle, /data\.self/],
      [JSON.parse('{"x": {"__proto__": {"polluted": true}}}'), /__proto__/],
      [deep, /deeper than the limit of 8/],
      ['x'.repeat(2_000), /over the limit of 1000/],
    ];
    for (const [data, path] of refused) {
      await assert.rejects(
        store.saveState({ pluginId: id, data: data as JsonValue, lastModified: new Date() }),
        (error) => {
          assert.ok(error instanceof ValidationError, String(error));
          assert.match(error.message, path);
          assert.ok(error.message.includes(id));
          return true;
        },
      );
    }
    for (const expectedRevision of [-1, 1.5, Number.NaN]) {
      await assert.rejects(
        store.saveState({ pluginId: id, data: 2, lastModified: new Date() }, { expectedRevision }),
        ValidationError,
      );
    }
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(namesIn(dir), [`${id}.json`]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses a stale expectedRevision with a ConflictError carrying the stored revision', async (t) => {
    const dir = tempDir(t);
    const store = new FileSystemStateStorage(dir);
    t.after(() => store.close());
    const id = randomUUID();
    const path = join(dir, `${id}.json`);
    await assert.rejects(
      store.saveState({ pluginId: id, data: 1, lastModified: new Date() }, { expectedRevision: 3 }),
      (error) => error instanceof ConflictError && error.storedRevision === 0 && error.expectedRevision === 3,
    );
    assert.equal(existsSync(path), false);
    await store.saveState({ pluginId: id, data: 1, lastModified: new Date() }, { expectedRevision: 0 });
    await store.saveState({ pluginId: id, data: 2, lastModified: new Date() }, { expectedRevision: 1 });
    const before = readFileSync(path);
    for (const expectedRevision of [0, 1, 3]) {
      await assert.rejects(
        store.saveState({ pluginId: id, data: 'lost?', lastModified: new Date() }, { expectedRevision }),
        (error) => {
          assert.ok(error instanceof ConflictError, String(error));
          assert.equal(error.code, 'CONFLICT');
          assert.equal(error.storedRevision, 2);
          assert.equal(error.expectedRevision, expectedRevision);
          assert.equal(error.pluginId, id);
          assert.ok(error.message.includes(path), error.message);
          return true;
        },
      );
    }
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(namesIn(dir), [`${id}.json`], 'no temp or lock file is left by a conflict');
    // A second instance (as another process would) sees the same revision.
    const other = new FileSystemStateStorage(dir);
    t.after(() => other.close());
    await assert.rejects(
      other.saveState({ pluginId: id, data: 'x', lastModified: new Date() }, { expectedRevision: 1 }),
      (error) => error instanceof ConflictError && error.storedRevision === 2,
    );
    assert.equal(
      (await other.saveState({ pluginId: id, data: 3, lastModified: new Date() }, { expectedRevision: 2 }))
        .revision,
      3,
    );
  });

  it('refuses every call after close with a StorageError, and close is idempotent', async (t) => {
    const dir = tempDir(t);
    const store = new FileSystemStateStorage(dir);
    const id = randomUUID();
    const pending = store.saveState({ pluginId: id, data: 'in flight', lastModified: new Date() });
    const closing = store.close();
    assert.equal((await pending).revision, 1, 'close waits for the save in flight');
    await closing;
    await store.close();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['saveState', () => store.saveState({ pluginId: id, data: 1, lastModified: new Date() })],
      ['loadState', () => store.loadState(id)],
      ['deleteState', () => store.deleteState(id)],
      ['listStates', () => store.listStates()],
      ['open', () => store.open()],
    ];
    for (const [operation, call] of calls) {
      await assert.rejects(call(), (error) => {
        assert.ok(error instanceof StorageError && error instanceof PluginStateError, String(error));
        assert.equal(error.code, 'STORAGE');
        assert.ok(error.message.startsWith(`${operation}:`), error.message);
        assert.match(error.message, /is closed/);
        assert.ok(error.message.includes(dir), error.message);
        return true;
      });
    }
    const reopened = new FileSystemStateStorage(dir);
    t.after(() => reopened.close());
    assert.equal((await reopened.loadState(id))?.data, 'in flight');
  });

  it('refuses an empty base path', () => {
    for (const base of ['', '   ']) assert.throws(() => new FileSystemStateStorage(base), StorageError);
  });
});
