// listStates keeps what it decrypted, so the next list opens only changed records. Nothing it keeps
// may ever stand in for bytes that were not authenticated.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { IntegrityError } from '../../../src/index.js';
import { encryptedMemory, envelopeOf, plant } from './helpers.js';

const state = (pluginId: string, data: unknown) => ({
  pluginId,
  data: data as never,
  lastModified: new Date(),
});

describe('encryption layer: the list cache', () => {
  it('notices a record tampered with after a list: the next list is an IntegrityError', async () => {
    const { inner, store } = encryptedMemory();
    const id = randomUUID();
    await store.saveState(state(id, { n: 1 }));
    await store.saveState(state(randomUUID(), { n: 2 }));
    assert.equal((await store.listStates()).length, 2);
    const envelope = await envelopeOf(inner, id);
    const bytes = Buffer.from(envelope.ct, 'base64');
    bytes[0]! ^= 1;
    await plant(inner, id, { ...envelope, ct: bytes.toString('base64') });
    await assert.rejects(store.listStates(), IntegrityError);
  });

  it('notices a record replaced by an older valid ciphertext of the same plugin', async () => {
    const { inner, store } = encryptedMemory();
    const id = randomUUID();
    await store.saveState(state(id, { n: 'old' }));
    const old = await envelopeOf(inner, id);
    await store.saveState(state(id, { n: 'new' }));
    assert.deepEqual((await store.listStates())[0]?.data, { n: 'new' });
    await plant(inner, id, old);
    // Rollback is outside what GCM can detect (SECURITY.md); what matters is that the list tells
    // the bytes that are stored now, not what it decrypted before.
    assert.deepEqual((await store.listStates())[0]?.data, { n: 'old' });
  });

  it('hands out fresh copies, follows saves and deletes, and survives a schema version change', async () => {
    const { store } = encryptedMemory();
    const a = randomUUID();
    const b = randomUUID();
    await store.saveState(state(a, { list: [1] }));
    await store.saveState(state(b, { list: [2] }));
    const first = await store.listStates();
    (first.find((s) => s.pluginId === a)!.data as { list: number[] }).list.push(99);
    const second = await store.listStates();
    assert.deepEqual(
      second.find((s) => s.pluginId === a)?.data,
      { list: [1] },
      'a mutated copy changed nothing',
    );
    await store.saveState({ ...state(a, { list: [3] }), version: 2 });
    await store.deleteState(b);
    const third = await store.listStates();
    assert.deepEqual(
      third.map((s) => [s.pluginId, s.data, s.version]),
      [[a, { list: [3] }, 2]],
    );
  });
});
