// Damaged and hostile state files: a typed error naming the file, the bytes kept, the rest usable.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  FileSystemStateStorage,
  type FileSystemStorageOptions,
  SerializationError,
  type StateReport,
} from '../../../src/index.js';
import { tempDir } from '../../helpers/temp-dir.js';

interface Setup {
  dir: string;
  id: string;
  path: string;
  other: string;
  store: FileSystemStateStorage;
  reports: StateReport[];
}

/** A store holding a valid state `other` and the state `id`, whose file is then replaced by `corrupt(valid bytes)`. */
async function setup(
  t: TestContext,
  corrupt: (valid: Buffer, id: string) => Buffer | string,
  options: FileSystemStorageOptions = {},
  data: unknown = { hello: 'world', list: [1, 2, 3] },
): Promise<Setup> {
  const dir = tempDir(t);
  const id = randomUUID();
  const other = randomUUID();
  const writer = new FileSystemStateStorage(dir);
  await writer.saveState({ pluginId: other, data: { fine: true }, lastModified: new Date() });
  await writer.saveState({ pluginId: id, data: data as never, lastModified: new Date() });
  await writer.close();
  const path = join(dir, `${id}.json`);
  writeFileSync(path, corrupt(readFileSync(path), id));
  const reports: StateReport[] = [];
  const store = new FileSystemStateStorage(dir, { ...options, onReport: (report) => reports.push(report) });
  t.after(() => store.close());
  return { dir, id, path, other, store, reports };
}

function isSerializationErrorNaming(path: string) {
  return (error: unknown) => {
    assert.ok(error instanceof SerializationError, `expected a SerializationError, got ${String(error)}`);
    assert.equal(error.code, 'SERIALIZATION');
    assert.ok(error.message.includes(path), `the message names the file: ${error.message}`);
    return true;
  };
}

const asideFiles = (dir: string, id: string) =>
  readdirSync(dir).filter((name) => name.startsWith(`${id}.json.corrupt-`));
const leftovers = (dir: string) => readdirSync(dir).filter((name) => /\.tmp-|\.lock/.test(name));

/** Envelope text written by hand, as a tampering user or tool would. */
function envelope(id: string, dataText: string, format = 1): string {
  return `{\n  "format": ${format},\n  "pluginId": "${id}",\n  "version": 1,\n  "revision": 4,\n  "lastModified": "2024-01-01T00:00:00.000Z",\n  "data": ${dataText}\n}\n`;
}

/** A well-formed envelope whose data string holds the bytes FF FE, which are not UTF-8. */
function invalidUtf8(id: string): Buffer {
  const bytes = Buffer.from(envelope(id, '"ab##cd"'));
  const at = bytes.indexOf('##');
  bytes[at] = 0xff;
  bytes[at + 1] = 0xfe;
  return bytes;
}

const damages: Array<[string, (valid: Buffer, id: string) => Buffer | string]> = [
  ['a truncated file', (valid) => valid.subarray(0, Math.floor(valid.length / 2))],
  ['a zero-byte file', () => Buffer.alloc(0)],
  ['a NUL-filled file', (valid) => Buffer.alloc(valid.length)],
  ['a file that is not JSON', () => 'hello, this is not { JSON'],
  ['a JSON array instead of an envelope', () => '[1, 2, 3]\n'],
  ['another plugin’s envelope', (valid, id) => valid.toString('utf8').replace(id, randomUUID())],
  ['envelope format 2', (valid) => valid.toString('utf8').replace('"format": 1', '"format": 2')],
  [
    'a revision that is not a whole number',
    (valid) => valid.toString('utf8').replace(/"revision": 1/, '"revision": 1.5'),
  ],
  ['invalid UTF-8 bytes in otherwise valid JSON', (_valid, id) => invalidUtf8(id)],
];

describe('file storage with corrupt files', () => {
  for (const [name, damage] of damages) {
    describe(name, () => {
      it('loadState is a SerializationError naming the file, and the bytes stay as they are', async (t) => {
        const { store, path, id, other } = await setup(t, damage);
        const before = readFileSync(path);
        await assert.rejects(store.loadState(id), isSerializationErrorNaming(path));
        await assert.rejects(store.loadState(id.toUpperCase()), isSerializationErrorNaming(path));
        assert.deepEqual(readFileSync(path), before);
        assert.deepEqual((await store.loadState(other))?.data, { fine: true }, 'the other state still loads');
      });

      for (const listCache of [true, false]) {
        it(`listStates returns the others and reports the corrupt one (listCache ${listCache})`, async (t) => {
          const { store, path, id, other, reports } = await setup(t, damage, { listCache });
          for (let round = 0; round < 2; round++) {
            const listed = await store.listStates();
            assert.deepEqual(
              listed.map((s) => [s.pluginId, s.data]),
              [[other, { fine: true }]],
            );
            const report = reports.at(-1);
            assert.equal(reports.length, round + 1, 'one report per list');
            assert.equal(report?.operation, 'listStates');
            assert.equal(report?.pluginId, id);
            assert.equal(report?.code, 'SERIALIZATION');
            assert.ok(report?.error instanceof SerializationError);
            assert.ok(report?.message.includes(path), report?.message);
          }
        });
      }

      it('a save with expectedRevision is a SerializationError and changes nothing', async (t) => {
        const { store, path, id, dir } = await setup(t, damage);
        const before = readFileSync(path);
        for (const expectedRevision of [0, 1]) {
          await assert.rejects(
            store.saveState({ pluginId: id, data: 'new', lastModified: new Date() }, { expectedRevision }),
            isSerializationErrorNaming(path),
          );
        }
        assert.deepEqual(readFileSync(path), before);
        assert.deepEqual(asideFiles(dir, id), []);
        assert.deepEqual(leftovers(dir), []);
      });

      it('a save without expectedRevision moves the bytes aside and stores revision 1', async (t) => {
        const { store, path, id, dir, reports } = await setup(t, damage);
        const before = readFileSync(path);
        await store.listStates(); // the index has seen the corrupt file
        const saved = await store.saveState({ pluginId: id, data: { fresh: 1 }, lastModified: new Date() });
        assert.equal(saved.revision, 1);
        const aside = asideFiles(dir, id);
        assert.equal(aside.length, 1, 'one .corrupt- file beside the state');
        assert.deepEqual(readFileSync(join(dir, aside[0]!)), before, 'holding the corrupt bytes');
        const loaded = await store.loadState(id);
        assert.deepEqual([loaded?.data, loaded?.revision], [{ fresh: 1 }, 1]);
        assert.equal(
          (await store.listStates()).find((s) => s.pluginId === id)?.revision,
          1,
          'listed again once replaced',
        );
        const moved = reports.find((report) => report.operation === 'saveState');
        assert.ok(moved?.message.includes(join(dir, aside[0]!)), 'the report says where the bytes went');
        assert.deepEqual(leftovers(dir), []);
      });
    });
  }

  describe('hostile payloads written by hand', () => {
    const hostile: Array<[string, string]> = [
      ['__proto__', '{"__proto__": {"polluted": true}}'],
      ['nested __proto__', '{"a": [{"b": {"__proto__": {"polluted": true}}}]}'],
      ['constructor.prototype', '{"constructor": {"prototype": {"polluted": true}}}'],
    ];
    for (const [name, data] of hostile) {
      it(`refuses a ${name} payload without polluting any prototype`, async (t) => {
        const { store, path, id, dir, other, reports } = await setup(t, (_valid, id) => envelope(id, data));
        const before = readFileSync(path);
        await assert.rejects(store.loadState(id), isSerializationErrorNaming(path));
        assert.deepEqual(
          (await store.listStates()).map((s) => s.pluginId),
          [other],
        );
        assert.equal(reports.at(-1)?.pluginId, id);
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
        assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false);
        // The library never wrote it, so it is kept for inspection when a save replaces it.
        await store.saveState({ pluginId: id, data: 'clean', lastModified: new Date() });
        const aside = asideFiles(dir, id);
        assert.equal(aside.length, 1);
        assert.deepEqual(readFileSync(join(dir, aside[0]!)), before);
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
      });
    }

    it('refuses data nested 100,000 levels deep with a typed error, without crashing', async (t) => {
      const depth = 100_000;
      const { store, path, id, other, reports } = await setup(t, (_valid, id) =>
        envelope(id, `${'['.repeat(depth)}${']'.repeat(depth)}`),
      );
      await assert.rejects(store.loadState(id), isSerializationErrorNaming(path));
      assert.deepEqual(
        (await store.listStates()).map((s) => s.pluginId),
        [other],
      );
      assert.equal(reports.at(-1)?.pluginId, id);
      const objects = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      writeFileSync(path, envelope(id, objects));
      await assert.rejects(store.loadState(id), isSerializationErrorNaming(path));
    });
  });

  describe('a large file (over 16 KiB)', () => {
    const big = { items: Array.from({ length: 400 }, (_, i) => ({ i, text: `item ${i} `.repeat(8) })) };
    const cuts: Array<[string, (valid: Buffer) => Buffer]> = [
      ['cut short inside its data', (valid) => valid.subarray(0, valid.length - 5_000)],
      [
        'with its last bytes zeroed',
        (valid) => Buffer.concat([valid.subarray(0, valid.length - 100), Buffer.alloc(100)]),
      ],
      ['with an unreadable header', (valid) => Buffer.concat([Buffer.alloc(64), valid.subarray(64)])],
    ];
    for (const [name, cut] of cuts) {
      it(`${name}: load fails, a CAS save changes nothing, a plain save moves it aside`, async (t) => {
        const { store, path, id, dir } = await setup(t, cut, {}, big);
        const before = readFileSync(path);
        assert.ok(before.length > 16 * 1024, `the file is ${before.length} bytes`);
        await assert.rejects(store.loadState(id), isSerializationErrorNaming(path));
        await assert.rejects(
          store.saveState({ pluginId: id, data: 'x', lastModified: new Date() }, { expectedRevision: 1 }),
          isSerializationErrorNaming(path),
        );
        assert.deepEqual(readFileSync(path), before);
        const saved = await store.saveState({ pluginId: id, data: big, lastModified: new Date() });
        assert.equal(saved.revision, 1);
        const aside = asideFiles(dir, id);
        assert.equal(aside.length, 1);
        assert.deepEqual(readFileSync(join(dir, aside[0]!)), before);
        assert.deepEqual((await store.loadState(id))?.data, big);
      });
    }

    it('an intact large file is replaced in place, its revision continued', async (t) => {
      const { store, id, dir } = await setup(t, (valid) => valid, {}, big);
      const saved = await store.saveState(
        { pluginId: id, data: 'next', lastModified: new Date() },
        { expectedRevision: 1 },
      );
      assert.equal(saved.revision, 2);
      assert.deepEqual(asideFiles(dir, id), []);
    });
  });

  it('keeps every corrupt file when a state is corrupted and replaced twice', async (t) => {
    const { store, path, id, dir } = await setup(t, () => 'first garbage');
    await store.saveState({ pluginId: id, data: 1, lastModified: new Date() });
    await new Promise((resolve) => setTimeout(resolve, 5)); // aside names carry the time in ms
    writeFileSync(path, 'second garbage');
    await store.saveState({ pluginId: id, data: 2, lastModified: new Date() });
    const kept = asideFiles(dir, id).map((name) => readFileSync(join(dir, name), 'utf8'));
    assert.deepEqual(kept.sort(), ['first garbage', 'second garbage']);
  });
});
