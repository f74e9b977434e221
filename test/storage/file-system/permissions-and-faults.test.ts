// Modes, folders, OS refusals and disk faults: a typed error naming the place, the previous state intact.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  type FileSystemApi,
  FileSystemStateStorage,
  nodeFileSystem,
  PermissionError,
  StorageError,
} from '../../../src/index.js';
import { runWorker } from '../../helpers/processes.js';
import { tempDir } from '../../helpers/temp-dir.js';

const mode = (path: string) => statSync(path).mode & 0o777;
const leftovers = (dir: string) => readdirSync(dir).filter((name) => /\.tmp-|\.lock/.test(name));

function systemError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(
    `${code}: injected failure, ${syscall}${path ? ` '${path}'` : ''}`,
  );
  error.code = code;
  error.syscall = syscall;
  if (path) error.path = path;
  return error;
}

/** nodeFileSystem with some calls replaced while `faults.on` is true. */
function faulty(overrides: Partial<FileSystemApi>): { fs: FileSystemApi; faults: { on: boolean } } {
  const faults = { on: true };
  const fs = { ...nodeFileSystem };
  for (const [name, replacement] of Object.entries(overrides) as Array<[keyof FileSystemApi, never]>) {
    const original = nodeFileSystem[name] as (...args: unknown[]) => unknown;
    (fs as Record<string, unknown>)[name] = (...args: unknown[]) =>
      faults.on ? (replacement as (...a: unknown[]) => unknown)(...args) : original(...args);
  }
  return { fs, faults };
}

/** A folder holding revision 1 of a state, and the exact bytes of that file. */
async function withSavedState(t: TestContext) {
  const dir = tempDir(t);
  const id = randomUUID();
  const writer = new FileSystemStateStorage(dir);
  await writer.saveState({
    pluginId: id,
    data: { version: 'one', pad: 'x'.repeat(3000) },
    lastModified: new Date(),
  });
  await writer.close();
  const path = join(dir, `${id}.json`);
  return { dir, id, path, bytes: readFileSync(path) };
}

describe('file storage permissions', () => {
  it('creates a missing nested base folder 0700 with files 0600', async (t) => {
    const root = tempDir(t);
    const base = join(root, 'a', 'b', 'states');
    const store = new FileSystemStateStorage(base);
    t.after(() => store.close());
    const id = randomUUID();
    await store.saveState({ pluginId: id, data: 1, lastModified: new Date() });
    for (const dir of [join(root, 'a'), join(root, 'a', 'b'), base]) assert.equal(mode(dir), 0o700, dir);
    assert.equal(mode(join(base, `${id}.json`)), 0o600);
  });

  it('keeps 0700 and 0600 in a process running with umask 000', async (t) => {
    const root = tempDir(t);
    const base = join(root, 'x', 'states');
    const id = randomUUID();
    const result = await runWorker<{ revision: number; umask: number }>(['save', base, id, '{"a":1}'], {
      umask: true,
    });
    assert.equal(result.umask, 0, 'the child ran with umask 000');
    assert.equal(result.revision, 1);
    assert.equal(mode(join(root, 'x')), 0o700);
    assert.equal(mode(base), 0o700);
    assert.equal(mode(join(base, `${id}.json`)), 0o600);
    // A second save (a new temp file renamed over the first) keeps the mode.
    await runWorker(['save', base, id, '{"a":2}'], { umask: true });
    assert.equal(mode(join(base, `${id}.json`)), 0o600);
  });

  it('refuses a base path that is a regular file with a StorageError naming it', async (t) => {
    const root = tempDir(t);
    const file = join(root, 'not-a-folder');
    writeFileSync(file, 'keep me');
    for (const base of [file, join(file, 'below')]) {
      const store = new FileSystemStateStorage(base);
      t.after(() => store.close());
      await assert.rejects(
        store.saveState({ pluginId: randomUUID(), data: 1, lastModified: new Date() }),
        (error) => {
          assert.ok(error instanceof StorageError && !(error instanceof PermissionError), String(error));
          assert.equal(error.code, 'STORAGE');
          assert.ok(error.message.includes(base), error.message);
          return true;
        },
      );
      await assert.rejects(store.listStates(), StorageError);
    }
    assert.equal(readFileSync(file, 'utf8'), 'keep me');
  });

  const refusals: Array<[string, string, keyof FileSystemApi]> = [
    ['EROFS', 'mkdir', 'mkdirSync'],
    ['EACCES', 'mkdir', 'mkdirSync'],
    ['EACCES', 'access', 'accessSync'],
    ['EROFS', 'access', 'accessSync'],
    ['EACCES', 'open', 'openSync'],
    ['EPERM', 'open', 'openSync'],
  ];
  for (const [code, syscall, call] of refusals) {
    it(`turns ${code} from ${call} on open into a PermissionError naming the folder, and retries later`, async (t) => {
      const root = tempDir(t);
      const base = join(root, 'states');
      const { fs, faults } = faulty({
        [call]: (path: unknown) => {
          throw systemError(code, syscall, String(path));
        },
      });
      const store = new FileSystemStateStorage(base, { fs });
      t.after(() => store.close());
      const id = randomUUID();
      for (const attempt of [
        () => store.saveState({ pluginId: id, data: 1, lastModified: new Date() }),
        () => store.loadState(id),
        () => store.listStates(),
      ]) {
        await assert.rejects(attempt(), (error) => {
          assert.ok(error instanceof PermissionError, String(error));
          assert.equal(error.code, 'PERMISSION');
          assert.ok(error.message.includes(base), error.message);
          assert.ok(error.message.includes(code), error.message);
          return true;
        });
      }
      faults.on = false; // e.g. the folder was made writable: the next call opens the store
      const saved = await store.saveState({ pluginId: id, data: 2, lastModified: new Date() });
      assert.equal(saved.revision, 1);
      assert.equal((await store.loadState(id))?.data, 2);
    });
  }

  it('turns EACCES on the lock or temp file into a PermissionError naming the file, state intact', async (t) => {
    const { dir, id, path, bytes } = await withSavedState(t);
    const refusals: Array<Partial<FileSystemApi>> = [
      {
        linkSync: (existing, link) => {
          if (link.endsWith('.lock')) throw systemError('EACCES', 'link', link);
          nodeFileSystem.linkSync(existing, link);
        },
      },
      {
        openSync: ((file: unknown, ...rest: unknown[]) => {
          if (String(file).includes('.tmp-')) throw systemError('EACCES', 'open', String(file));
          return (nodeFileSystem.openSync as (...a: unknown[]) => number)(file, ...rest);
        }) as FileSystemApi['openSync'],
      },
    ];
    for (const refusal of refusals) {
      const { fs } = faulty(refusal);
      const store = new FileSystemStateStorage(dir, { fs });
      t.after(() => store.close());
      await store.open();
      await assert.rejects(
        store.saveState({ pluginId: id, data: 'two', lastModified: new Date() }),
        (error) => error instanceof PermissionError && error.message.includes(path) && error.pluginId === id,
      );
      assert.deepEqual(readFileSync(path), bytes);
      assert.deepEqual(leftovers(dir), []);
    }
  });
});

describe('file storage disk faults', () => {
  const diskFull: Array<[string, string, (fs: FileSystemApi) => Partial<FileSystemApi>]> = [
    [
      'ENOSPC from writeSync',
      'ENOSPC',
      () => ({
        writeSync: () => {
          throw systemError('ENOSPC', 'write');
        },
      }),
    ],
    [
      'ENOSPC from writeSync after a first partial write',
      'ENOSPC',
      () => {
        let calls = 0;
        return {
          writeSync: (fd, buffer, offset, length, position) => {
            if (calls++ === 0)
              return nodeFileSystem.writeSync(fd, buffer, offset, Math.min(length, 100), position);
            throw systemError('ENOSPC', 'write');
          },
        };
      },
    ],
    [
      'ENOSPC from fsyncSync',
      'ENOSPC',
      () => ({
        fsyncSync: () => {
          throw systemError('ENOSPC', 'fsync');
        },
      }),
    ],
    [
      'EDQUOT from fsyncSync',
      'EDQUOT',
      () => ({
        fsyncSync: () => {
          throw systemError('EDQUOT', 'fsync');
        },
      }),
    ],
    [
      'ENOSPC when creating the temp file',
      'ENOSPC',
      () => ({
        openSync: ((path: unknown, ...rest: unknown[]) => {
          if (String(path).includes('.tmp-')) throw systemError('ENOSPC', 'open', String(path));
          return (nodeFileSystem.openSync as (...a: unknown[]) => number)(path, ...rest);
        }) as FileSystemApi['openSync'],
      }),
    ],
    [
      'ENOSPC from linkSync when keeping the replaced revision in history',
      'ENOSPC',
      () => ({
        linkSync: (existing: string, target: string) => {
          if (target.includes('.json.~')) throw systemError('ENOSPC', 'link', target);
          nodeFileSystem.linkSync(existing, target);
        },
      }),
    ],
  ];
  for (const [name, code, makeFaults] of diskFull) {
    it(`${name}: a StorageError saying the disk is full; the previous state is byte-identical`, async (t) => {
      const { dir, id, path, bytes } = await withSavedState(t);
      const { fs, faults } = faulty({});
      const store = new FileSystemStateStorage(dir, { fs });
      t.after(() => store.close());
      await store.open(); // the faults hit the save, not the opening
      Object.assign(fs, makeFaults(fs));
      for (const expectedRevision of [undefined, 1]) {
        await assert.rejects(
          store.saveState(
            { pluginId: id, data: { version: 'two' }, lastModified: new Date() },
            { expectedRevision },
          ),
          (error) => {
            assert.ok(error instanceof StorageError, String(error));
            assert.equal(error.code, 'STORAGE');
            assert.match(error.message, /disk .*is full/);
            assert.ok(error.message.includes(code));
            assert.ok(error.message.includes(id));
            assert.equal(error.pluginId, id);
            return true;
          },
        );
        assert.deepEqual(readFileSync(path), bytes, 'the previous file is untouched');
        assert.deepEqual(leftovers(dir), [], 'no temp or lock file is left');
        assert.deepEqual(
          readdirSync(dir).filter((file) => file.includes('.json.~')),
          [],
          'nothing went into history',
        );
        assert.equal((await store.loadState(id))?.revision, 1);
      }
      // The faults stop (space was freed): the next save works and continues the revisions.
      faults.on = false;
      Object.assign(fs, nodeFileSystem);
      const saved = await store.saveState(
        { pluginId: id, data: { version: 'two' }, lastModified: new Date() },
        { expectedRevision: 1 },
      );
      assert.equal(saved.revision, 2);
      assert.deepEqual((await store.loadState(id))?.data, { version: 'two' });
    });
  }

  it('fails a save or delete whose folder fsync fails, saying truthfully what is stored', async (t) => {
    const { dir, id, path } = await withSavedState(t);
    const folder = statSync(dir).ino;
    const { fs, faults } = faulty({
      fsyncSync: (fd) => {
        if (nodeFileSystem.fstatSync(fd).ino === folder) throw systemError('ENOSPC', 'fsync');
        nodeFileSystem.fsyncSync(fd);
      },
    });
    const store = new FileSystemStateStorage(dir, { fs });
    t.after(() => store.close());
    // The rename has happened when the folder's fsync fails: the new state is what is stored.
    await assert.rejects(
      store.saveState({ pluginId: id, data: 'two', lastModified: new Date() }),
      (error) => {
        assert.ok(error instanceof StorageError, String(error));
        assert.equal(error.pluginId, id);
        assert.ok(error.message.includes(`the new state was written to ${path}`), error.message);
        assert.match(error.message, /may not survive a power cut/);
        assert.doesNotMatch(error.message, /unchanged/);
        return true;
      },
    );
    const stored = await store.loadState(id);
    assert.deepEqual([stored?.data, stored?.revision], ['two', 2]);
    assert.deepEqual(leftovers(dir), []);
    await assert.rejects(store.deleteState(id), (error) => {
      assert.ok(error instanceof StorageError, String(error));
      assert.ok(error.message.includes(`${path} was removed`), error.message);
      assert.doesNotMatch(error.message, /unchanged/);
      return true;
    });
    assert.equal(await store.loadState(id), undefined);
    faults.on = false;
    assert.equal(
      (await store.saveState({ pluginId: id, data: 'three', lastModified: new Date() })).revision,
      3,
      'the delete happened (revision 2 went into history), so numbering goes on from it',
    );
  });

  for (const chunk of [1, 7, 4096]) {
    it(`completes a file written in short writes of at most ${chunk} bytes`, async (t) => {
      const dir = tempDir(t);
      let calls = 0;
      const { fs } = faulty({
        writeSync: (fd, buffer, offset, length, position) => {
          calls++;
          return nodeFileSystem.writeSync(fd, buffer, offset, Math.min(length, chunk), position);
        },
      });
      const store = new FileSystemStateStorage(dir, { fs });
      t.after(() => store.close());
      const id = randomUUID();
      const data = {
        text: 'ünïcødé ✓ 🎉',
        list: Array.from({ length: chunk === 4096 ? 5_000 : 50 }, (_, i) => i),
      };
      const saved = await store.saveState({ pluginId: id, data, lastModified: new Date() });
      const size = statSync(join(dir, `${id}.json`)).size;
      assert.ok(calls >= Math.ceil(size / chunk), `${calls} writes for ${size} bytes`);
      const reader = new FileSystemStateStorage(dir);
      t.after(() => reader.close());
      const loaded = await reader.loadState(id);
      assert.deepEqual(loaded?.data, data);
      assert.equal(loaded?.revision, saved.revision);
    });
  }

  it('fails a save whose write makes no progress (returns 0), the previous state intact', async (t) => {
    const { dir, id, path, bytes } = await withSavedState(t);
    const { fs } = faulty({ writeSync: () => 0 });
    const store = new FileSystemStateStorage(dir, { fs });
    t.after(() => store.close());
    await assert.rejects(
      store.saveState({ pluginId: id, data: 'two', lastModified: new Date() }),
      (error) =>
        error instanceof StorageError &&
        error.pluginId === id &&
        error.message.includes(`saveState of plugin ${id}`) &&
        error.message.includes(path) &&
        /no progress/.test(error.message),
    );
    assert.deepEqual(readFileSync(path), bytes);
    assert.deepEqual(leftovers(dir), []);
  });

  for (const history of [10, 0]) {
    // With history the delete renames the file to its marker (`~last`); without, it unlinks it.
    it(`fails a delete whose removal fails, keeping the state (history ${history})`, async (t) => {
      const { dir, id, path, bytes } = await withSavedState(t);
      const { fs } = faulty({
        unlinkSync: (target) => {
          if (String(target) === path) throw systemError('EROFS', 'unlink', path);
          nodeFileSystem.unlinkSync(target);
        },
        renameSync: (from, to) => {
          if (String(from) === path) throw systemError('EROFS', 'rename', path);
          nodeFileSystem.renameSync(from, to);
        },
      });
      const store = new FileSystemStateStorage(dir, { fs, history });
      t.after(() => store.close());
      await assert.rejects(
        store.deleteState(id),
        (error) => error instanceof PermissionError && error.message.includes(path),
      );
      assert.deepEqual(readFileSync(path), bytes);
      assert.deepEqual(leftovers(dir), []);
      assert.deepEqual(
        readdirSync(dir).filter((name) => name.includes('.json.~')),
        [],
        'nothing kept twice',
      );
      assert.deepEqual(
        (await store.listRevisions(id)).map((info) => [info.revision, info.current]),
        [[1, true]],
      );
    });
  }

  it('reports a state file it cannot read (EACCES) as a PermissionError, not as missing', async (t) => {
    const { dir, id, path } = await withSavedState(t);
    const { fs } = faulty({
      readFileSync: (target) => {
        if (String(target) === path) throw systemError('EACCES', 'open', path);
        return nodeFileSystem.readFileSync(target);
      },
    });
    const store = new FileSystemStateStorage(dir, { fs });
    t.after(() => store.close());
    await assert.rejects(
      store.loadState(id),
      (error) => error instanceof PermissionError && error.message.includes(path),
    );
  });

  it('keeps mkdir away from an existing folder’s mode', async (t) => {
    const root = tempDir(t);
    const base = join(root, 'shared');
    mkdirSync(base, { mode: 0o750 });
    const store = new FileSystemStateStorage(base);
    t.after(() => store.close());
    await store.saveState({ pluginId: randomUUID(), data: 1, lastModified: new Date() });
    assert.equal(mode(base), 0o750, 'a folder the host made is left as the host made it');
  });
});
