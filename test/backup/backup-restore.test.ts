// What backup writes and restore does: merge and replace, dry runs, history on or off, progress,
// empty stores, file modes and atomic replacement, streams both ways, failures half-way.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  type BackupProgress,
  backup,
  encrypted,
  envelopeLimits,
  IntegrityError,
  MemoryStateStorage,
  type PluginStateStorage,
  type RestoreProgress,
  restore,
  StorageError,
  ValidationError,
} from '../../src/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import {
  archiveLines,
  assertSameFolder,
  body,
  contents,
  header,
  sealArchive,
  sha256,
  snapshot,
  storageAt,
} from './helpers.js';

const A = '0a000000-0000-4000-8000-000000000000';
const B = '0b000000-0000-4000-8000-000000000000';
const C = '0c000000-0000-4000-8000-000000000000';

async function memoryWith(states: Record<string, unknown>): Promise<MemoryStateStorage> {
  const storage = new MemoryStateStorage();
  for (const [pluginId, data] of Object.entries(states)) {
    await storage.saveState({ pluginId, data: data as never, lastModified: new Date() });
  }
  return storage;
}

async function collect(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

describe('backup', () => {
  it('writes a header, one checksummed line per state in id order, and a trailer', async (t) => {
    const dir = tempDir(t);
    const storage = await memoryWith({ [C]: { c: 1 }, [A]: { a: 'ä' }, [B]: [1, 2] });
    const path = join(dir, 'backup.ndjson');
    const result = await backup(storage, path, { source: 'test store' });
    const text = readFileSync(path, 'utf8');
    const lines = archiveLines(path);
    assert.equal(lines.at(-1), '', 'every line ends with "\\n"');
    const head = JSON.parse(lines[0]!);
    assert.deepEqual(Object.keys(head), ['format', 'version', 'createdAt', 'source', 'history']);
    assert.deepEqual(
      { ...head, createdAt: undefined },
      {
        format: 'plugin-state-backup',
        version: 1,
        createdAt: undefined,
        source: 'test store',
        history: false,
      },
    );
    const records = lines.slice(1, -2).map((line) => JSON.parse(line));
    assert.deepEqual(
      records.map((r) => [r.pluginId, r.revision, r.version, r.current, r.data]),
      [
        [A, 1, 1, true, { a: 'ä' }],
        [B, 1, 1, true, [1, 2]],
        [C, 1, 1, true, { c: 1 }],
      ],
    );
    for (const line of lines.slice(1, -2)) {
      const { sha256: claimed } = JSON.parse(line);
      assert.equal(
        claimed,
        sha256(line.replace(/,"sha256":"[0-9a-f]{64}"\}$/, '}')),
        'the documented checksum',
      );
    }
    const trailer = JSON.parse(lines.at(-2)!);
    const before = text.slice(0, text.lastIndexOf('{"trailer"'));
    assert.deepEqual(trailer, {
      trailer: 'plugin-state-backup',
      records: 3,
      states: 3,
      sha256: sha256(before),
    });
    assert.deepEqual(
      { ...result, createdAt: result.createdAt.toISOString() },
      {
        path,
        createdAt: head.createdAt,
        states: 3,
        records: 3,
        vanished: 0,
        bytes: Buffer.byteLength(text),
        sha256: sha256(before),
      },
    );
  });

  it('of an empty store is a header and a trailer, and restores to nothing', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'empty.ndjson');
    const result = await backup(new MemoryStateStorage(), path, { history: true });
    assert.equal(result.states, 0);
    assert.equal(result.records, 0);
    const lines = archiveLines(path);
    assert.equal(lines.length, 3);
    assert.deepEqual(JSON.parse(lines[1]!), {
      trailer: 'plugin-state-backup',
      records: 0,
      states: 0,
      sha256: sha256(`${lines[0]}\n`),
    });

    const target = await memoryWith({ [A]: 1, [B]: 2 });
    const merged = await restore(target, path, { mode: 'merge' });
    assert.deepEqual([merged.restored, merged.deleted], [0, 0]);
    assert.equal((await target.listStates()).length, 2, 'merge of nothing changes nothing');
    const replaced = await restore(target, path, { mode: 'replace' });
    assert.deepEqual([replaced.restored, replaced.deleted], [0, 2]);
    assert.deepEqual(await target.listStates(), []);
  });

  it('writes the archive file with mode 0600 whatever the umask, and replaces an old one atomically', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'backup.ndjson');
    writeFileSync(path, 'an older backup', { mode: 0o644 });
    const umask = process.umask(0);
    try {
      await backup(await memoryWith({ [A]: 1 }), path);
    } finally {
      process.umask(umask);
    }
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.match(readFileSync(path, 'utf8'), /^\{"format":"plugin-state-backup"/);
    assert.deepEqual(readdirSync(dir), ['backup.ndjson'], 'no temp file is left');
  });

  it('leaves an existing archive untouched, and no temp file, when the backup fails half-way', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'backup.ndjson');
    writeFileSync(path, 'the previous backup');
    const inner = await memoryWith({ [A]: 1, [B]: 2 });
    const failing: PluginStateStorage = {
      ...bind(inner),
      listRevisions: async (pluginId) => {
        if (pluginId === B) throw new StorageError('the disk went away');
        return inner.listRevisions(pluginId);
      },
    };
    await assert.rejects(backup(failing, path, { history: true }), /the disk went away/);
    assert.equal(readFileSync(path, 'utf8'), 'the previous backup');
    assert.deepEqual(readdirSync(dir), ['backup.ndjson']);
  });

  it('fails with a StorageError naming the file when its folder does not exist', async (t) => {
    const path = join(tempDir(t), 'missing', 'backup.ndjson');
    const error = await backup(new MemoryStateStorage(), path).catch((e: unknown) => e);
    assert.ok(error instanceof StorageError);
    assert.match(error.message, /backup: could not write the archive to .*missing\/backup\.ndjson: ENOENT/);
  });

  it('writes to a Writable with backpressure, ends it by default, and leaves it open with end: false', async () => {
    const storage = await memoryWith(
      Object.fromEntries(Array.from({ length: 300 }, () => [randomUUID(), 'x'.repeat(2000)])),
    );
    const slow = new PassThrough({ highWaterMark: 1024 });
    const text = collect(slow);
    const result = await backup(storage, slow);
    assert.equal(result.path, undefined);
    assert.equal((await text).length, result.bytes);
    assert.ok(slow.writableEnded);

    const open = new PassThrough();
    const kept = collect(open);
    await backup(storage, open, { end: false });
    assert.ok(!open.writableEnded, 'not ended');
    open.end('');
    const restored = await restore(new MemoryStateStorage(), Readable.from([await kept]), { mode: 'merge' });
    assert.equal(restored.restored, 300);
  });

  it('rejects with a StorageError when the Writable fails', async () => {
    const broken = new Writable({
      write(_chunk, _encoding, callback) {
        callback(new Error('EPIPE: the reader went away'));
      },
    });
    const error = await backup(await memoryWith({ [A]: 1 }), broken).catch((e: unknown) => e);
    assert.ok(error instanceof StorageError, String(error));
    assert.match(error.message, /the destination stream: EPIPE: the reader went away/);
  });

  it('reports progress once per state; a throwing callback changes nothing', async (t) => {
    const storage = await memoryWith({ [A]: 1, [B]: 2, [C]: 3 });
    const seen: BackupProgress[] = [];
    await backup(storage, join(tempDir(t), 'a.ndjson'), {
      onProgress: (progress) => {
        seen.push(progress);
        throw new Error('a broken progress bar');
      },
    });
    assert.deepEqual(seen, [
      { done: 1, total: 3 },
      { done: 2, total: 3 },
      { done: 3, total: 3 },
    ]);
  });

  it('counts a history revision that vanished between listing and reading, and leaves it out', async (t) => {
    const inner = new MemoryStateStorage();
    for (let i = 1; i <= 3; i++) await inner.saveState({ pluginId: A, data: i, lastModified: new Date() });
    const storage: PluginStateStorage = {
      ...bind(inner),
      loadRevision: async (pluginId, revision) =>
        revision === 1 ? undefined : inner.loadRevision(pluginId, revision),
    };
    const path = join(tempDir(t), 'a.ndjson');
    const result = await backup(storage, path, { history: true });
    assert.equal(result.vanished, 1);
    assert.deepEqual(
      archiveLines(path)
        .slice(1, -2)
        .map((line) => [JSON.parse(line).revision, JSON.parse(line).current]),
      [
        [2, false],
        [3, true],
      ],
    );
  });

  it('through an encryption layer holds plaintext; of the storage underneath, the encrypted envelopes', async (t) => {
    const dir = tempDir(t);
    const key = { id: 'k1', key: randomBytes(32) };
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const layer = encrypted(inner, { key });
    await layer.saveState({ pluginId: A, data: { secret: 'hunter2' }, lastModified: new Date() });

    const plain = join(dir, 'plain.ndjson');
    await backup(layer, plain);
    assert.match(readFileSync(plain, 'utf8'), /hunter2/);

    const sealed = join(dir, 'sealed.ndjson');
    await backup(inner, sealed);
    assert.doesNotMatch(readFileSync(sealed, 'utf8'), /hunter2/);
    const elsewhere = new MemoryStateStorage({ limits: envelopeLimits() });
    await restore(elsewhere, sealed, { mode: 'replace', limits: envelopeLimits() });
    assert.deepEqual((await encrypted(elsewhere, { key }).loadState(A))?.data, { secret: 'hunter2' });
  });

  it('refuses bad arguments before touching anything', async (t) => {
    const storage = new MemoryStateStorage();
    await assert.rejects(backup({} as PluginStateStorage, join(tempDir(t), 'x')), ValidationError);
    await assert.rejects(backup(storage, '' as string), ValidationError);
    await assert.rejects(backup(storage, 42 as unknown as string), ValidationError);
    await assert.rejects(restore(storage, 'x', {} as never), /mode must be 'merge' or 'replace'/);
    await assert.rejects(restore(storage, 'x', { mode: 'merge', concurrency: 0 }), ValidationError);
    await assert.rejects(restore(storage, 42 as unknown as string, { mode: 'merge' }), ValidationError);
  });
});

describe('restore', () => {
  async function scene(t: TestContext) {
    const source = await memoryWith({ [B]: { from: 'archive', b: 1 }, [C]: { from: 'archive', c: 1 } });
    const target = await memoryWith({ [A]: { from: 'target', a: 1 }, [B]: { from: 'target', b: 0 } });
    const path = join(tempDir(t), 'archive.ndjson');
    await backup(source, path);
    return { source, target, path };
  }

  it('merge: writes every archived state as a new revision; states only in the target stay', async (t) => {
    const { target, path } = await scene(t);
    const result = await restore(target, path, { mode: 'merge' });
    assert.deepEqual(
      { ...result, archive: undefined },
      { mode: 'merge', dryRun: false, restored: 2, revisions: 0, skipped: 0, deleted: 0, archive: undefined },
    );
    assert.deepEqual(
      [...(await contents(target))].map(([id, s]) => [id, s.data]),
      [
        [A, { from: 'target', a: 1 }],
        [B, { from: 'archive', b: 1 }],
        [C, { from: 'archive', c: 1 }],
      ],
    );
    const revisions = await target.listRevisions(B);
    assert.deepEqual(
      revisions.map((r) => [r.revision, r.current]),
      [
        [2, true],
        [1, false],
      ],
      "the target's own state is kept in history",
    );
  });

  it('replace: afterwards the target holds exactly the archive; the others are deleted, not purged', async (t) => {
    const { target, path } = await scene(t);
    const progress: RestoreProgress[] = [];
    const result = await restore(target, path, { mode: 'replace', onProgress: (p) => progress.push(p) });
    assert.deepEqual([result.restored, result.deleted], [2, 1]);
    assert.deepEqual([...(await contents(target)).keys()], [B, C]);
    assert.deepEqual(progress, [
      { phase: 'verify', done: 1 },
      { phase: 'verify', done: 2 },
      { phase: 'write', done: 1, total: 2 },
      { phase: 'write', done: 2, total: 2 },
      { phase: 'delete', done: 1, total: 1 },
    ]);
    // Deleted, not purged: history undoes it.
    const [last] = await target.listRevisions(A);
    await target.restoreRevision(A, last!.revision);
    assert.deepEqual((await target.loadState(A))?.data, { from: 'target', a: 1 });
  });

  it('dryRun verifies and counts, and writes nothing', async (t) => {
    const dir = tempDir(t);
    const source = await memoryWith({ [B]: 1, [C]: 2 });
    const path = join(dir, 'archive.ndjson');
    await backup(source, path);
    const targetDir = join(dir, 'target');
    const target = await storageAt(t, `file:${targetDir}`);
    await target.saveState({ pluginId: A, data: 1, lastModified: new Date() });
    const before = snapshot(targetDir);
    const result = await restore(target, path, { mode: 'replace', dryRun: true });
    assert.deepEqual([result.dryRun, result.restored, result.deleted], [true, 2, 1]);
    assertSameFolder(before, snapshot(targetDir));
  });

  it('writes history records oldest first before the current one, or skips them with history: false', async (t) => {
    const dir = tempDir(t);
    const source = new MemoryStateStorage();
    for (let i = 1; i <= 3; i++)
      await source.saveState({ pluginId: A, data: { i }, version: i, lastModified: new Date() });
    const path = join(dir, 'archive.ndjson');
    await backup(source, path, { history: true });

    const withHistory = new MemoryStateStorage();
    const full = await restore(withHistory, path, { mode: 'merge' });
    assert.deepEqual([full.restored, full.revisions, full.skipped], [1, 2, 0]);
    assert.deepEqual(
      (await withHistory.listRevisions(A)).map((r) => [r.revision, r.version]),
      [
        [3, 3],
        [2, 2],
        [1, 1],
      ],
    );
    const currentOnly = new MemoryStateStorage();
    const skipped = await restore(currentOnly, path, { mode: 'merge', history: false });
    assert.deepEqual([skipped.restored, skipped.revisions, skipped.skipped], [1, 0, 2]);
    assert.deepEqual(
      (await currentOnly.listRevisions(A)).map((r) => [r.revision, r.version]),
      [[1, 3]],
    );
    assert.deepEqual((await currentOnly.loadState(A))?.data, { i: 3 });
  });

  it('keeps data, version and lastModified; the revision is the target’s next; ids come out lower-case', async () => {
    const upper = A.toUpperCase();
    const archive = sealArchive(header(), [body(upper, { kept: true }, { revision: 40, version: 7 })]);
    const target = await memoryWith({ [A]: 'older' });
    await restore(target, Readable.from([archive]), { mode: 'merge' });
    const state = await target.loadState(A);
    assert.deepEqual(
      { ...state, lastModified: state?.lastModified.toISOString() },
      {
        pluginId: A,
        data: { kept: true },
        version: 7,
        revision: 2,
        lastModified: new Date(1_700_000_000_000).toISOString(),
      },
    );
  });

  it('restoring the same archive twice gives the same states', async (t) => {
    const { target, path } = await scene(t);
    await restore(target, path, { mode: 'replace' });
    const once = await contents(target);
    await restore(target, path, { mode: 'replace' });
    assert.deepEqual(await contents(target), once);
  });

  it('stops at the first failed save: the states before it stay, replace deletes nothing', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'archive.ndjson');
    // B's state is too large for the target (its limit is lower than the archive was checked against).
    await backup(await memoryWith({ [A]: 'small', [B]: 'x'.repeat(500), [C]: 'small' }), path);
    const target = new MemoryStateStorage({ limits: { maxBytes: 100 } });
    const other = '0d000000-0000-4000-8000-000000000000';
    await target.saveState({ pluginId: other, data: 'not in the archive', lastModified: new Date() });
    const error = await restore(target, path, { mode: 'replace', concurrency: 1 }).catch((e: unknown) => e);
    assert.ok(error instanceof ValidationError, String(error));
    assert.equal(error.pluginId, B);
    assert.deepEqual(
      [...(await contents(target)).keys()],
      [A, other],
      'A was written; C was not; nothing deleted',
    );
  });

  it('refuses an archive file that changes while it is being restored', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'archive.ndjson');
    const pad = 'x'.repeat(1000);
    await backup(
      await memoryWith(Object.fromEntries(Array.from({ length: 600 }, (_, i) => [randomUUID(), { i, pad }]))),
      path,
    );
    const size = statSync(path).size;
    const target = new MemoryStateStorage();
    let changed = false;
    const error = await restore(target, path, {
      mode: 'merge',
      concurrency: 1,
      onProgress: ({ phase }) => {
        if (phase !== 'write' || changed) return;
        changed = true;
        // Past what the reader has buffered: a byte of the data of a record near the end.
        const fd = openSync(path, 'r+');
        const at = size - 2000;
        const byte = Buffer.alloc(1);
        readSync(fd, byte, 0, 1, at);
        byte[0] = byte[0] === 0x78 ? 0x79 : 0x78;
        writeSync(fd, byte, 0, 1, at);
        closeSync(fd);
      },
    }).catch((e: unknown) => e);
    assert.ok(error instanceof IntegrityError, String(error));
    assert.match(error.message, /changed while it was being restored/);
    const written = (await target.listStates()).length;
    assert.ok(
      written > 0 && written < 600,
      `some states were written before the change was seen (${written})`,
    );
  });

  it('fails with a StorageError naming a missing archive, and touches nothing', async (t) => {
    const path = join(tempDir(t), 'missing.ndjson');
    const target = await memoryWith({ [A]: 1 });
    const error = await restore(target, path, { mode: 'replace' }).catch((e: unknown) => e);
    assert.ok(error instanceof StorageError, String(error));
    assert.match(error.message, /restore: cannot read the archive .*missing\.ndjson: ENOENT/);
    assert.equal((await target.listStates()).length, 1);
  });

  it('verifies a stream through a private spool file that is removed afterwards', async (t) => {
    const path = join(tempDir(t), 'a.ndjson');
    await backup(await memoryWith({ [A]: 1 }), path);
    const before = new Set(
      readdirSync(tmpFolder()).filter((name) => name.startsWith('plugin-state-restore-')),
    );
    let spool: string | undefined;
    await restore(new MemoryStateStorage(), Readable.from([readFileSync(path)]), {
      mode: 'merge',
      onProgress: () => {
        spool ??= readdirSync(tmpFolder()).find(
          (name) => name.startsWith('plugin-state-restore-') && !before.has(name),
        );
        if (spool) {
          assert.equal(statSync(join(tmpFolder(), spool)).mode & 0o777, 0o700);
          assert.equal(statSync(join(tmpFolder(), spool, 'archive.ndjson')).mode & 0o777, 0o600);
        }
      },
    });
    assert.ok(spool, 'a spool folder existed during the restore');
    assert.ok(!existsSync(join(tmpFolder(), spool)), 'and is gone');
  });

  it('10,000 states of 1 KB: backup and restore stream them', async () => {
    const pad = 'x'.repeat(1000);
    const source = new MemoryStateStorage();
    for (let i = 0; i < 10_000; i++) {
      await source.saveState({ pluginId: randomUUID(), data: { i, pad }, lastModified: new Date() });
    }
    const pipe = new PassThrough();
    const [written, restored] = await Promise.all([
      backup(source, pipe),
      restore(new MemoryStateStorage(), pipe, { mode: 'replace' }),
    ]);
    assert.equal(written.states, 10_000);
    assert.ok(written.bytes > 10_000_000);
    assert.equal(restored.restored, 10_000);
  });

  it('holds one line at a time: an 80 MB archive restores with far less memory than its size', async (t) => {
    const count = 8_000;
    const pad = 'y'.repeat(10_000);
    // Generated line by line, with the trailer's hash computed on the way: never whole in memory here either.
    const archive = Readable.from(
      (function* () {
        const hash = createHash('sha256');
        const emit = (line: string) => {
          hash.update(line);
          return Buffer.from(line);
        };
        yield emit(`${JSON.stringify(header())}\n`);
        for (let i = 0; i < count; i++) {
          const pluginId = `${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
          yield emit(`${sealArchive(header(), [body(pluginId, { i, pad })]).split('\n')[1]}\n`);
        }
        const trailer = {
          trailer: 'plugin-state-backup',
          records: count,
          states: count,
          sha256: hash.digest('hex'),
        };
        yield Buffer.from(`${JSON.stringify(trailer)}\n`);
      })(),
    );
    let saved = 0;
    const discard: PluginStateStorage = {
      saveState: async (state) => {
        saved++;
        return state;
      },
      loadState: async () => undefined,
      deleteState: async () => undefined,
      listStates: async () => [],
    };
    // What stays reachable, after a full collection, in the JavaScript heap and in the Buffers
    // outside it: an archive held in either would show.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const retained = () => {
      gc();
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      return heapUsed + arrayBuffers;
    };
    const baseline = retained();
    let peak = baseline;
    const result = await restore(discard, archive, {
      mode: 'merge',
      onProgress: ({ done }) => {
        if (done % 500 === 0) peak = Math.max(peak, retained());
      },
    });
    assert.equal(result.restored, count);
    assert.equal(saved, count);
    const grown = `${((peak - baseline) / 1e6).toFixed(1)} MB`;
    t.diagnostic(`retained memory grew by at most ${grown} for an 80 MB archive`);
    assert.ok(peak - baseline < 20_000_000, `retained memory grew by ${grown} for an 80 MB archive`);
  });
});

function tmpFolder(): string {
  return tmpdir();
}

/** The storage's methods bound to it, to build a wrapper from. */
function bind(storage: MemoryStateStorage): PluginStateStorage {
  return {
    saveState: storage.saveState.bind(storage),
    loadState: storage.loadState.bind(storage),
    deleteState: storage.deleteState.bind(storage),
    listStates: storage.listStates.bind(storage),
    listRevisions: storage.listRevisions.bind(storage),
    loadRevision: storage.loadRevision.bind(storage),
  };
}
