// Key rotation: older keys stay readable, records move to the current key on their next write or
// all at once with rotateKeys (also while the store is in use), and each key's encryptions are
// counted so that it is retired long before random IVs could repeat.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  BatchError,
  ConflictError,
  FileSystemStateStorage,
  IntegrityError,
  MemoryStateStorage,
  type PluginStateStorage,
  type StateReport,
  ValidationError,
} from '../../../src/index.js';
import {
  ENCRYPTION_METADATA_ID,
  type EncryptionKey,
  encrypted,
  envelopeLimits,
  type RotationProgress,
  rotateKeys,
} from '../../../src/layers/encryption/index.js';
import { rejectsWith } from '../../../src/testing/harness.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { envelopeOf, newKey, plant } from './helpers.js';

const state = (pluginId: string, data: unknown) => ({
  pluginId,
  data: data as never,
  lastModified: new Date(),
});

async function kidsUnder(inner: PluginStateStorage): Promise<Map<string, string>> {
  const kids = new Map<string, string>();
  for (const stored of await inner.listStates()) {
    if (stored.pluginId === ENCRYPTION_METADATA_ID) continue;
    kids.set(stored.pluginId, (stored.data as { kid: string }).kid);
  }
  return kids;
}

describe('older keys', () => {
  it('records under an older key stay readable, and move to the current key on their next write', async () => {
    const [k1, k2] = [newKey('k1'), newKey('k2')];
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const id = randomUUID();
    await encrypted(inner, { key: k1 }).saveState(state(id, { v: 1 }));
    const store = encrypted(inner, { key: k2, olderKeys: [k1] });
    assert.deepEqual((await store.loadState(id))?.data, { v: 1 });
    assert.equal((await envelopeOf(inner, id)).kid, 'k1', 'a read does not rewrite');
    await store.saveState(state(id, { v: 2 }));
    assert.equal((await envelopeOf(inner, id)).kid, 'k2', 'the next write re-encrypts under the current key');
    const onlyNew = encrypted(inner, { key: k2 });
    assert.deepEqual((await onlyNew.loadState(id))?.data, { v: 2 });
  });
});

describe('rotateKeys', () => {
  it('re-encrypts every record under the current key and reports progress', async () => {
    const [k1, k2] = [newKey('k1'), newKey('k2')];
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const old = encrypted(inner, { key: k1 });
    const ids = Array.from({ length: 30 }, () => randomUUID());
    for (const [index, id] of ids.entries()) {
      await old.saveState({ ...state(id, { index }), version: 1 + (index % 3) });
    }
    const store = encrypted(inner, { key: k2, olderKeys: [k1] });
    await store.saveState(state(ids[0]!, { index: 'rewritten' })); // already current before the rotation
    const before = await Promise.all(ids.map((id) => inner.loadState(id)));
    const progress: RotationProgress[] = [];
    const result = await rotateKeys(store, { onProgress: (step) => progress.push(step) });
    assert.deepEqual(result, {
      keyId: 'k2',
      total: 30,
      rotated: 29,
      alreadyCurrent: 1,
      deleted: 0,
      encrypted: 0,
    });
    assert.deepEqual(
      progress.map((step) => step.done),
      Array.from({ length: 30 }, (_, index) => index + 1),
    );
    assert.ok(progress.every((step) => step.total === 30));
    assert.deepEqual(new Set((await kidsUnder(inner)).values()), new Set(['k2']));
    const onlyNew = encrypted(inner, { key: k2 });
    for (const [index, id] of ids.entries()) {
      const loaded = await onlyNew.loadState(id);
      assert.deepEqual(loaded?.data, { index: index === 0 ? 'rewritten' : index });
      assert.equal(loaded?.version, before[index]?.version, 'version kept');
      assert.equal(
        loaded?.lastModified.getTime(),
        before[index]?.lastModified.getTime(),
        'lastModified kept',
      );
    }
    const again = await rotateKeys(onlyNew);
    assert.equal(again.rotated, 0, 'a second rotation has nothing to do');
    assert.equal(again.alreadyCurrent, 30);
  });

  for (const backend of ['memory', 'file'] as const) {
    it(`with the store in use (${backend}): no write is lost, everything ends under the new key`, async (t) => {
      const [k1, k2] = [newKey('k1'), newKey('k2')];
      const dir = backend === 'file' ? join(tempDir(t), 'states') : '';
      const shared = new MemoryStateStorage({ limits: envelopeLimits() });
      const inner = () =>
        backend === 'file' ? new FileSystemStateStorage(dir, { limits: envelopeLimits() }) : shared;
      const old = encrypted(inner(), { key: k1 });
      const ids = Array.from({ length: 40 }, () => randomUUID());
      for (const id of ids) await old.saveState(state(id, { count: 0, last: -1 }));
      if (backend === 'file') await old.close();

      // Two instances with the new configuration: one rotates, both keep saving.
      const rotating = encrypted(inner(), { key: k2, olderKeys: [k1] });
      const other = backend === 'file' ? encrypted(inner(), { key: k2, olderKeys: [k1] }) : rotating;
      const INCREMENTS = 6;
      let conflicts = 0;
      const increment = async (store: PluginStateStorage, id: string, writer: number) => {
        for (;;) {
          const current = (await store.loadState(id))!;
          const data = current.data as { count: number };
          try {
            await store.saveState(state(id, { count: data.count + 1, last: writer }), {
              expectedRevision: current.revision!,
            });
            return;
          } catch (error) {
            if (!(error instanceof ConflictError)) throw error;
            conflicts++;
          }
        }
      };
      // The writers join in once the rotation has re-encrypted its first record. The backends may
      // finish an operation without a turn of the event loop, so the writers yield a random number of
      // microtasks rather than timers: that interleaves them with the rotation's reads and writes.
      let started: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        started = resolve;
      });
      const progress: number[] = [];
      const rotation = rotateKeys(rotating, {
        concurrency: 2,
        onProgress: ({ done }) => {
          progress.push(done);
          started();
        },
      });
      const writers = ids.map(async (id, index) => {
        await gate;
        for (let step = 0; step < INCREMENTS; step++) {
          for (let hop = Math.floor(Math.random() * 200); hop > 0; hop--) await Promise.resolve();
          await increment(step % 2 === 0 ? rotating : other, id, index);
        }
      });
      // Blind saves (last writer wins) on fresh ids during the rotation, too.
      const fresh = Array.from({ length: 10 }, () => randomUUID());
      const blind = fresh.map(async (id, index) => {
        await gate;
        await other.saveState(state(id, { count: 100 + index, last: -2 }));
      });
      const result = await rotation;
      await Promise.all([...writers, ...blind]);

      t.diagnostic(`rotation: ${JSON.stringify(result)}; writers retried ${conflicts} conflicts`);
      assert.equal(result.keyId, 'k2');
      assert.ok(result.rotated > 0, 'the rotation re-encrypted records');
      assert.equal(progress.length, result.total, 'one progress call per record');
      assert.equal(result.rotated + result.alreadyCurrent + result.deleted, result.total);
      assert.equal(progress.at(-1), result.total);
      if (backend === 'file') {
        await rotating.close();
        await other.close();
      }
      const reader = encrypted(inner(), { key: k2 });
      for (const [index, id] of ids.entries()) {
        const loaded = await reader.loadState(id);
        assert.deepEqual(loaded?.data, { count: INCREMENTS, last: index }, `no increment of ${id} was lost`);
      }
      for (const [index, id] of fresh.entries()) {
        assert.deepEqual((await reader.loadState(id))?.data, { count: 100 + index, last: -2 });
      }
      assert.deepEqual(new Set((await kidsUnder(inner())).values()), new Set(['k2']), 'only the new key');
      await reader.close();
    });
  }

  it('a save landing between the rotation’s read and its write is kept: the rotation retries', async () => {
    const [k1, k2] = [newKey('k1'), newKey('k2')];
    const memory = new MemoryStateStorage({ limits: envelopeLimits() });
    const id = randomUUID();
    await encrypted(memory, { key: k1 }).saveState(state(id, 'before'));
    let writer: PluginStateStorage | undefined;
    let interfered = 0;
    // Under the layer: just before the rotation's compare-and-set reaches the store, another
    // instance saves the same plugin.
    const interfering: PluginStateStorage = {
      saveState: async (saved, options) => {
        if (options?.expectedRevision !== undefined && saved.pluginId === id && interfered === 0) {
          interfered++;
          await writer!.saveState(state(id, 'saved during the rotation'));
        }
        return memory.saveState(saved, options);
      },
      loadState: (pluginId) => memory.loadState(pluginId),
      deleteState: (pluginId) => memory.deleteState(pluginId),
      listStates: () => memory.listStates(),
    };
    writer = encrypted(interfering, { key: k2, olderKeys: [k1] });
    const store = encrypted(interfering, { key: k2, olderKeys: [k1] });
    const result = await rotateKeys(store);
    assert.equal(interfered, 1);
    assert.deepEqual(result, {
      keyId: 'k2',
      total: 1,
      rotated: 0,
      alreadyCurrent: 1,
      deleted: 0,
      encrypted: 0,
    });
    assert.equal((await store.loadState(id))?.data, 'saved during the rotation', 'the concurrent save won');
    assert.equal((await envelopeOf(memory, id)).kid, 'k2');
  });

  it('a record that cannot be decrypted does not stop the others: a BatchError at the end', async () => {
    const [k1, k2] = [newKey('k1'), newKey('k2')];
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const old = encrypted(inner, { key: k1 });
    const ids = Array.from({ length: 5 }, () => randomUUID());
    for (const id of ids) await old.saveState(state(id, 'x'));
    const envelope = await envelopeOf(inner, ids[2]!);
    await plant(inner, ids[2]!, { ...envelope, tag: Buffer.alloc(16).toString('base64') });
    const store = encrypted(inner, { key: k2, olderKeys: [k1] });
    const error = await rejectsWith('rotation', BatchError, 'BATCH', () => rotateKeys(store));
    assert.equal(error.failures.length, 1);
    assert.equal(error.failures[0]!.pluginId, ids[2]);
    assert.ok(error.failures[0]!.error instanceof IntegrityError);
    const kids = await kidsUnder(inner);
    assert.deepEqual(
      ids.map((id) => kids.get(id)),
      ['k2', 'k2', 'k1', 'k2', 'k2'],
    );
  });

  it('plaintext records fail a rotation, unless encryptPlaintext asks to encrypt them', async () => {
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const plainIds = [randomUUID(), randomUUID()];
    for (const id of plainIds) await inner.saveState({ ...state(id, { plain: id }), version: 2 });
    const store = encrypted(inner, { key: newKey('k1') });
    const refused = await rejectsWith('rotation', BatchError, 'BATCH', () => rotateKeys(store));
    assert.equal(refused.failures.length, 2);
    assert.ok(refused.failures.every((failure) => failure.error instanceof IntegrityError));
    const result = await rotateKeys(store, { encryptPlaintext: true });
    assert.equal(result.encrypted, 2);
    for (const id of plainIds) {
      const loaded = await store.loadState(id);
      assert.deepEqual(loaded?.data, { plain: id });
      assert.equal(loaded?.version, 2);
    }
    // A damaged envelope is never taken for plaintext.
    const damaged = randomUUID();
    await inner.saveState(state(damaged, { 'plugin-state:encrypted': 1, kid: 'k1', ct: 'AAAA' }));
    await rejectsWith('damaged envelope', BatchError, 'BATCH', () =>
      rotateKeys(store, { encryptPlaintext: true }),
    );
  });

  it('refuses a storage that is not the encryption layer itself', async () => {
    await rejectsWith('memory storage', ValidationError, 'VALIDATION', () =>
      rotateKeys(new MemoryStateStorage() as never),
    );
  });
});

describe('encryptions per key', () => {
  const limited = (inner: PluginStateStorage, key: EncryptionKey, reports?: StateReport[]) =>
    encrypted(inner, {
      key,
      maxEncryptionsPerKey: 10,
      ...(reports ? { onReport: (report: StateReport) => reports.push(report) } : {}),
    });

  it('a key refuses to encrypt past its limit, saying to rotate; a new key continues', async () => {
    const k1 = newKey('k1');
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const reports: StateReport[] = [];
    const store = limited(inner, k1, reports);
    const id = randomUUID();
    for (let save = 0; save < 10; save++) await store.saveState(state(id, save));
    const error = await rejectsWith('11th encryption', IntegrityError, 'INTEGRITY', () =>
      store.saveState(state(id, 'too many')),
    );
    assert.ok(error.message.includes(id));
    assert.match(error.message, /rotateKeys/);
    assert.equal((await store.loadState(id))?.data, 9, 'nothing was written');
    assert.ok(
      reports.some((report) => /rotate soon/.test(report.message)),
      'a warning once half the allowance is reserved',
    );
    const metadata = (await inner.loadState(ENCRYPTION_METADATA_ID))?.data as {
      keys: Record<string, { encryptions: number }>;
    };
    assert.equal(metadata.keys.k1?.encryptions, 10, 'the count is stored beside the data');

    const next = encrypted(inner, { key: newKey('k2'), olderKeys: [k1], maxEncryptionsPerKey: 10 });
    await next.saveState(state(id, 'under k2'));
    assert.equal((await rotateKeys(next)).alreadyCurrent, 1);
  });

  it('the count is shared by every instance over the store, and survives a reopen', async () => {
    const k1 = newKey('k1');
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const a = limited(inner, k1);
    for (let save = 0; save < 6; save++) await a.saveState(state(randomUUID(), save));
    // `a` reserved the whole allowance in its first block: reserved counts as used.
    const b = limited(inner, k1);
    await rejectsWith('another instance', IntegrityError, 'INTEGRITY', () =>
      b.saveState(state(randomUUID(), 0)),
    );
    // Loads still work: only encryption is refused.
    assert.equal((await b.listStates()).length, 6);
  });

  it('concurrent saves across instances never reserve more than the limit', async () => {
    const k1 = newKey('k1');
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const stores = Array.from({ length: 4 }, () => limited(inner, k1));
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, index) => stores[index % 4]!.saveState(state(randomUUID(), index))),
    );
    const saved = results.filter((result) => result.status === 'fulfilled').length;
    // Whoever reserved first holds the whole (tiny) allowance; the others are refused at once.
    assert.ok(saved > 0 && saved <= 10, `at most the allowance was encrypted, got ${saved}`);
    const metadata = (await inner.loadState(ENCRYPTION_METADATA_ID))?.data as {
      keys: Record<string, { encryptions: number }>;
    };
    assert.equal(metadata.keys.k1?.encryptions, 10);
  });
});
