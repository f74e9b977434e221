// History through the encryption layer. The storage underneath keeps it (its own `history` option),
// so every kept revision is an envelope under the key it was written with: it opens while that key
// is in the ring, is a typed error without it, is authenticated like a current record, and is never
// in clear, on disk or in a database file either. Over memory, file and SQLite storage.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  FileSystemStateStorage,
  IntegrityError,
  MemoryStateStorage,
  type PluginState,
  type PluginStateStorage,
  type SaveOptions,
  type StateReport,
  StorageError,
  ValidationError,
  VersionIncompatibilityError,
} from '../../../src/index.js';
import {
  ENCRYPTION_METADATA_ID,
  type EncryptionOptions,
  encrypted,
  envelopeLimits,
  passphraseKey,
  rotateKeys,
} from '../../../src/layers/encryption/index.js';
import { SqliteStateStorage } from '../../../src/storage/sqlite/index.js';
import { rejectsWith } from '../../../src/testing/harness.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { newKey, plant, type StoredEnvelope } from './helpers.js';

const SECRET = 'correct horse battery staple';

type HistoryStorage = PluginStateStorage &
  Required<Pick<PluginStateStorage, 'listRevisions' | 'loadRevision' | 'restoreRevision' | 'purgeState'>>;

const state = (pluginId: string, data: unknown, version = 1): PluginState => ({
  pluginId,
  data: data as never,
  lastModified: new Date(),
  version,
});

/** The byte size `listRevisions` must give: the data's JSON in UTF-8. */
const sizeOf = (data: unknown) => Buffer.byteLength(JSON.stringify(data));

interface Place {
  /** A new storage over the same place each call (same folder, same database file). */
  inner(history?: number): HistoryStorage;
  /** Every byte the place holds, as text (history files and database pages included). */
  raw(): Promise<string>;
}

const backends: { name: string; place(t: TestContext): Place }[] = [
  {
    name: 'memory',
    place: () => {
      const shared = new MemoryStateStorage({ limits: envelopeLimits() });
      return {
        inner: () => view(shared),
        // Memory has no bytes: everything it keeps of every state, current and history.
        raw: async () => {
          const ids = new Set((await shared.listStates()).map((stored) => stored.pluginId));
          const texts = await Promise.all([...ids].map((id) => everythingUnder(shared, id)));
          return texts.join('\n');
        },
      };
    },
  },
  {
    name: 'file',
    place: (t) => {
      const dir = join(tempDir(t), 'states');
      return {
        inner: (history) => new FileSystemStateStorage(dir, { limits: envelopeLimits(), history }),
        raw: async () =>
          readdirSync(dir)
            .map((name) => readFileSync(join(dir, name), 'latin1'))
            .join('\n'),
      };
    },
  },
  {
    name: 'sqlite',
    place: (t) => {
      const file = join(tempDir(t), 'states.db');
      return {
        inner: (history) => new SqliteStateStorage(file, { limits: envelopeLimits(), history }),
        raw: async () =>
          [file, `${file}-wal`]
            .filter((path) => existsSync(path))
            .map((path) => readFileSync(path, 'latin1'))
            .join('\n'),
      };
    },
  },
];

/** Everything the storage underneath keeps of `pluginId`, every revision, as JSON text. */
async function everythingUnder(inner: HistoryStorage, pluginId: string): Promise<string> {
  const kept = await inner.listRevisions(pluginId);
  const records = await Promise.all(kept.map((info) => inner.loadRevision(pluginId, info.revision)));
  return JSON.stringify(records);
}

function layer(inner: PluginStateStorage, options: EncryptionOptions, reports?: StateReport[]) {
  return encrypted(inner, { ...options, onReport: (report) => reports?.push(report) });
}

/** Every method of `storage` but `close`: a view that a layer may close without closing the storage. */
function view(storage: MemoryStateStorage, overrides: Partial<HistoryStorage> = {}): HistoryStorage {
  return {
    saveState: (saved, options) => storage.saveState(saved, options),
    loadState: (id) => storage.loadState(id),
    deleteState: (id) => storage.deleteState(id),
    listStates: () => storage.listStates(),
    listRevisions: (id) => storage.listRevisions(id),
    loadRevision: (id, revision) => storage.loadRevision(id, revision),
    restoreRevision: (id, revision, options) => storage.restoreRevision(id, revision, options),
    purgeState: (id) => storage.purgeState(id),
    ...overrides,
  };
}

async function kidOf(inner: HistoryStorage, pluginId: string, revision: number): Promise<string> {
  const stored = await inner.loadRevision(pluginId, revision);
  assert.ok(stored, `revision ${revision} is kept`);
  return (stored.data as unknown as StoredEnvelope).kid;
}

const revisionsOf = async (store: HistoryStorage, pluginId: string) =>
  (await store.listRevisions(pluginId)).map((info) => `${info.revision}${info.current ? '*' : ''}`);

for (const backend of backends) {
  describe(`encryption layer over ${backend.name} storage: history`, () => {
    it('keeps every revision encrypted, deleted ones too; sizes are the plaintext’s', async (t) => {
      const place = backend.place(t);
      const inner = place.inner();
      const store = layer(inner, { key: newKey('k1') });
      const id = randomUUID();
      const datas = [{ note: SECRET }, { note: `${SECRET} ✓ é 😀`, list: [1, 2] }, 'short'];
      for (const [index, data] of datas.entries()) await store.saveState(state(id, data, index + 1));
      await store.deleteState(id);

      const listed = await store.listRevisions(id);
      assert.deepEqual(
        listed.map(({ revision, version, current, size }) => ({ revision, version, current, size })),
        [
          { revision: 3, version: 3, current: false, size: sizeOf('short') },
          { revision: 2, version: 2, current: false, size: sizeOf(datas[1]) },
          { revision: 1, version: 1, current: false, size: sizeOf(datas[0]) },
        ],
        'the plaintext sizes, not the envelopes’',
      );
      const underneath = await inner.listRevisions(id);
      assert.ok(
        underneath.every((info, index) => info.size > listed[index]!.size),
        'the storage underneath holds larger envelopes',
      );
      for (const [index, data] of datas.entries()) {
        const loaded = await store.loadRevision(id, index + 1);
        assert.deepEqual([loaded?.data, loaded?.version, loaded?.revision], [data, index + 1, index + 1]);
      }
      const under = await everythingUnder(inner, id);
      assert.ok(under.includes('plugin-state:encrypted'), 'envelopes under the layer');
      for (const text of [under, await place.raw()]) {
        assert.ok(!text.includes('horse') && !text.includes('short'), 'no plaintext under the layer');
      }
      const undone = await store.restoreRevision(id, 2);
      assert.equal(undone.revision, 4);
      assert.deepEqual((await store.loadState(id))?.data, datas[1]);
      const after = (await place.raw()) + (await everythingUnder(inner, id));
      assert.ok(
        after.includes('plugin-state:encrypted') && !after.includes('horse'),
        'a restore is encrypted again',
      );
      await store.close?.();
    });

    it('after a rotation, history stays under the old key: it opens while that key is in olderKeys', async (t) => {
      const place = backend.place(t);
      const [k1, k2] = [newKey('k1'), newKey('k2')];
      const id = randomUUID();
      const old = layer(place.inner(), { key: k1 });
      await old.saveState(state(id, { n: 1, note: SECRET }));
      await old.saveState(state(id, { n: 2 }));
      await old.close?.();

      const rotating = layer(place.inner(), { key: k2, olderKeys: [k1] });
      const result = await rotateKeys(rotating);
      assert.equal(result.rotated, 1);
      const inner = place.inner();
      assert.deepEqual(
        await Promise.all([1, 2, 3].map((revision) => kidOf(inner, id, revision))),
        ['k1', 'k1', 'k2'],
        'the rotation re-encrypted the current state only; history is never rewritten',
      );
      assert.deepEqual((await rotating.loadRevision(id, 1))?.data, { n: 1, note: SECRET });
      assert.deepEqual((await rotating.loadRevision(id, 2))?.data, { n: 2 });
      await rotating.close?.();

      const reports: StateReport[] = [];
      const retired = layer(place.inner(), { key: k2 }, reports);
      assert.deepEqual((await retired.loadState(id))?.data, { n: 2 }, 'the current state is under k2');
      assert.deepEqual(await revisionsOf(retired, id), ['3*', '2', '1'], 'still listed, sizes and all');
      const error = await rejectsWith('a revision under a retired key', IntegrityError, 'INTEGRITY', () =>
        retired.loadRevision(id, 1),
      );
      assert.equal(error.pluginId, id);
      assert.equal(error.operation, 'loadRevision');
      assert.ok(error.message.includes(`revision 1 of the state of plugin ${id}`), error.message);
      assert.match(error.message, /"k1".*olderKeys.*rotateKeys re-encrypts current states only.*purgeState/s);
      assert.ok(!error.message.includes('horse'));
      assert.equal(reports.at(-1)?.error, error, 'reported beside the thrown error');
      await rejectsWith('a restore from it', IntegrityError, 'INTEGRITY', () =>
        retired.restoreRevision(id, 1),
      );
      assert.deepEqual(await revisionsOf(retired, id), ['3*', '2', '1'], 'nothing was written');
      await retired.close?.();

      const withOld = layer(place.inner(), { key: k2, olderKeys: [k1] });
      const restored = await withOld.restoreRevision(id, 1);
      assert.deepEqual([restored.revision, restored.data], [4, { n: 1, note: SECRET }]);
      assert.equal(await kidOf(place.inner(), id, 4), 'k2', 'a restore is written under the current key');
      await withOld.purgeState(id);
      assert.deepEqual(await withOld.listRevisions(id), [], 'purged: nothing is left under k1');
      await withOld.close?.();
    });

    // Needs the same place reopened with another `history`, which a memory storage cannot be: the
    // test exists for the persistent backends only (the suite's name says which ran it).
    if (backend.name !== 'memory')
      it('encryptPlaintext over a storage with history 0 leaves no plaintext revision behind', async (t) => {
        const key = newKey('k1');
        const plaintextStore = async () => {
          const place = backend.place(t);
          const before = place.inner();
          for (const id of [kept, dropped]) {
            await before.saveState(state(id, { note: `${SECRET} 1` }));
            await before.saveState(state(id, { note: `${SECRET} 2` }));
          }
          await before.close?.();
          return place;
        };
        const [kept, dropped] = [randomUUID(), randomUUID()];
        // With history, the plaintext a rotation replaces is kept in clear: the caveat rotateKeys states.
        const keeping = (await plaintextStore()).inner();
        assert.equal((await rotateKeys(layer(keeping, { key }), { encryptPlaintext: true })).encrypted, 2);
        const plainKept = await keeping.loadRevision(kept, 2);
        assert.deepEqual(plainKept?.data, { note: `${SECRET} 2` }, 'kept in clear by a storage with history');
        await keeping.close?.();

        const place = await plaintextStore();
        const inner = place.inner(0);
        const store = layer(inner, { key });
        await store.saveState(state(kept, { note: 'after' })); // dropping the history of one state, too
        const result = await rotateKeys(store, { encryptPlaintext: true });
        assert.equal(result.encrypted, 1);
        assert.equal(result.alreadyCurrent, 1);
        for (const id of [kept, dropped]) {
          const revisions = await inner.listRevisions(id);
          assert.deepEqual(
            revisions.map((info) => info.current),
            [true],
            'history 0: the current one only',
          );
          assert.ok(!(await everythingUnder(inner, id)).includes('horse'));
        }
        assert.deepEqual((await store.loadState(dropped))?.data, { note: `${SECRET} 2` });
        await store.close?.();
      });

    it('a tampered history revision is an IntegrityError naming plugin and revision; the others open', async (t) => {
      const place = backend.place(t);
      const inner = place.inner();
      const reports: StateReport[] = [];
      const store = layer(inner, { key: newKey('k1') }, reports);
      const id = randomUUID();
      await store.saveState(state(id, { n: 1 }));
      const envelope = (await inner.loadState(id))!.data as unknown as StoredEnvelope;
      const ct = Buffer.from(envelope.ct, 'base64');
      ct[0]! ^= 1;
      await plant(inner, id, { ...envelope, ct: ct.toString('base64') }); // revision 2, under the layer
      await plant(inner, id, { note: 'planted in clear' }); // revision 3: not an envelope
      await store.saveState(state(id, { n: 4 }));

      const tampered = await rejectsWith('the tampered revision', IntegrityError, 'INTEGRITY', () =>
        store.loadRevision(id, 2),
      );
      assert.ok(tampered.message.includes(`revision 2 of the state of plugin ${id}`), tampered.message);
      assert.match(tampered.message, /failed authentication.*History is never rewritten/s);
      const plain = await rejectsWith('the plaintext revision', IntegrityError, 'INTEGRITY', () =>
        store.loadRevision(id, 3),
      );
      assert.ok(plain.message.includes(`revision 3 of the state of plugin ${id}`), plain.message);
      assert.ok(!plain.message.includes('planted'), 'never the plaintext');
      await rejectsWith('restoring it', IntegrityError, 'INTEGRITY', () => store.restoreRevision(id, 2));
      assert.deepEqual((await store.loadRevision(id, 1))?.data, { n: 1 });
      assert.deepEqual((await store.loadState(id))?.data, { n: 4 });

      reports.length = 0;
      assert.deepEqual(
        await revisionsOf(store, id),
        ['4*', '2', '1'],
        'the revision that is not an envelope is left out of the list',
      );
      assert.equal(reports.length, 1, 'and reported');
      assert.equal(reports[0]?.operation, 'listRevisions');
      assert.equal(reports[0]?.code, 'INTEGRITY');
      assert.match(reports[0]!.message, new RegExp(`revision 3 of the state of plugin ${id}`));
      await store.close?.();
    });
  });
}

describe('encryption layer: history, whatever the storage', () => {
  it('passes expectedRevision, maxStoredVersion and keepReplaced to the storage underneath', async () => {
    const memory = new MemoryStateStorage({ limits: envelopeLimits(), history: 0 });
    const seen: (SaveOptions | undefined)[] = [];
    const spy = view(memory, {
      saveState: (saved, options) => {
        if (saved.pluginId !== ENCRYPTION_METADATA_ID) seen.push(options);
        return memory.saveState(saved, options);
      },
    });
    const store = layer(spy, { key: newKey('k1') });
    const id = randomUUID();
    await store.saveState(state(id, 1));
    await store.saveState(state(id, 2, 2), { expectedRevision: 1, maxStoredVersion: 2, keepReplaced: true });
    await rejectsWith('an older plugin', VersionIncompatibilityError, 'VERSION_INCOMPATIBLE', () =>
      store.saveState(state(id, 3), { maxStoredVersion: 1 }),
    );
    assert.deepEqual(seen, [
      undefined,
      { expectedRevision: 1, maxStoredVersion: 2, keepReplaced: true },
      { maxStoredVersion: 1 },
    ]);
    assert.deepEqual(
      await revisionsOf(store, id),
      ['2*', '1'],
      'keepReplaced kept revision 1 with history 0',
    );
    assert.deepEqual((await store.loadState(id))?.data, 2, 'the refused save changed nothing');
  });

  it('over a storage without history: each history method is a StorageError saying so', async () => {
    const memory = new MemoryStateStorage({ limits: envelopeLimits() });
    const bare: PluginStateStorage = {
      saveState: (saved, options) => memory.saveState(saved, options),
      loadState: (id) => memory.loadState(id),
      deleteState: (id) => memory.deleteState(id),
      listStates: () => memory.listStates(),
    };
    const store = layer(bare, { key: newKey('k1') });
    const id = randomUUID();
    await store.saveState(state(id, 'x'));
    for (const [name, call] of [
      ['listRevisions', () => store.listRevisions(id)],
      ['loadRevision', () => store.loadRevision(id, 1)],
      ['restoreRevision', () => store.restoreRevision(id, 1)],
      ['purgeState', () => store.purgeState(id)],
    ] as const) {
      const error = await rejectsWith(name, StorageError, 'STORAGE', call);
      assert.match(error.message, /keeps no history/);
      assert.equal(error.pluginId, id);
    }
    assert.deepEqual((await store.loadState(id))?.data, 'x', 'the rest works');
    await store.deleteState(id);
    assert.equal(await store.loadState(id), undefined);
  });

  it('the metadata record: refused by every history method, and restorable from the history underneath', async () => {
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const passphrase = () => passphraseKey('a long secret passphrase', { id: 'pw' });
    const store = layer(inner, { key: passphrase() });
    const id = randomUUID();
    await store.saveState(state(id, { note: SECRET }));
    for (const [name, call] of [
      ['listRevisions', () => store.listRevisions(ENCRYPTION_METADATA_ID)],
      ['loadRevision', () => store.loadRevision(ENCRYPTION_METADATA_ID, 1)],
      ['restoreRevision', () => store.restoreRevision(ENCRYPTION_METADATA_ID, 1)],
      ['purgeState', () => store.purgeState(ENCRYPTION_METADATA_ID)],
    ] as const) {
      const error = await rejectsWith(name, ValidationError, 'VALIDATION', call);
      assert.match(error.message, /reserved/);
    }
    assert.deepEqual(
      await store.listStates().then((states) => states.length),
      1,
      'the metadata stays hidden',
    );

    // The metadata record (the passphrase salt) lost: its history under the layer brings it back.
    const kept = await inner.listRevisions(ENCRYPTION_METADATA_ID);
    await inner.deleteState(ENCRYPTION_METADATA_ID);
    const lost = layer(inner, { key: passphrase() });
    const error = await rejectsWith('open without the salt', IntegrityError, 'INTEGRITY', () =>
      lost.loadState(id),
    );
    assert.match(error.message, /no passphrase salt.*restoreRevision/s);
    await inner.restoreRevision(ENCRYPTION_METADATA_ID, kept[0]!.revision);
    const back = layer(inner, { key: passphrase() });
    assert.deepEqual((await back.loadState(id))?.data, { note: SECRET });
  });

  it('listStates follows restores and purges, through the layer or under it', async () => {
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const store = layer(inner, { key: newKey('k1') });
    const id = randomUUID();
    const listed = async () => (await store.listStates()).map((s) => [s.revision, s.data]);
    await store.saveState(state(id, 'a'));
    assert.deepEqual(await listed(), [[1, 'a']]);
    await store.saveState(state(id, 'b'));
    assert.deepEqual(await listed(), [[2, 'b']]);
    await store.restoreRevision(id, 1);
    assert.deepEqual(await listed(), [[3, 'a']], 'restored through the layer');
    await inner.restoreRevision(id, 2);
    assert.deepEqual(await listed(), [[4, 'b']], 'an old envelope put back under the layer');
    await inner.restoreRevision(id, 3);
    assert.deepEqual(
      await listed(),
      [[5, 'a']],
      'the very envelope listed before: its revision is the new one',
    );
    await store.purgeState(id);
    assert.deepEqual(await listed(), []);
    await store.saveState(state(id, 'c'));
    assert.deepEqual(await listed(), [[1, 'c']], 'numbering starts again after a purge');
  });
});
