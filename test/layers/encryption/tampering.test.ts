// Attacks on the stored bytes, made under the layer the way someone with the disk, a backup or a
// database dump could: every one is an IntegrityError naming the plugin and the place, and no
// plaintext is ever returned.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  IntegrityError,
  MemoryStateStorage,
  type PluginState,
  type PluginStateStorage,
  type StateReport,
  ValidationError,
} from '../../../src/index.js';
import { ENCRYPTION_METADATA_ID, encrypted, envelopeLimits } from '../../../src/layers/encryption/index.js';
import { rejectsWith } from '../../../src/testing/harness.js';
import { encryptedMemory, envelopeOf, newKey, plant, type StoredEnvelope } from './helpers.js';

const SECRET = 'correct horse battery staple';
const SECRET_DATA = { note: SECRET, list: [1, 2, 3] };
const secretState = (pluginId: string, extra: Partial<PluginState> = {}): PluginState => ({
  pluginId,
  data: SECRET_DATA,
  lastModified: new Date(),
  ...extra,
});

/** Loads through the layer and expects an IntegrityError naming the plugin and the place, without the secret. */
async function refused(store: PluginStateStorage, pluginId: string, what: string): Promise<IntegrityError> {
  const error = await rejectsWith(what, IntegrityError, 'INTEGRITY', () => store.loadState(pluginId));
  assert.ok(error.message.includes(pluginId), `${what}: names the plugin: ${error.message}`);
  assert.ok(error.message.includes('memory storage'), `${what}: names the place: ${error.message}`);
  assert.equal(error.pluginId, pluginId);
  assert.ok(!error.message.includes(SECRET), `${what}: no plaintext in the message`);
  return error;
}

function flipped(base64: string, index: number, mask: number): string {
  const bytes = Buffer.from(base64, 'base64');
  bytes[index]! ^= mask;
  return bytes.toString('base64');
}

describe('encryption layer: what the storage underneath holds', () => {
  it('holds an envelope and never the plaintext; a fresh IV on every write', async () => {
    const { inner, store } = encryptedMemory();
    const id = randomUUID();
    await store.saveState(secretState(id));
    const first = await envelopeOf(inner, id);
    await store.saveState(secretState(id));
    const second = await envelopeOf(inner, id);
    assert.deepEqual(Object.keys(first), ['plugin-state:encrypted', 'kid', 'iv', 'tag', 'ct']);
    assert.equal(first['plugin-state:encrypted'], 1);
    assert.equal(first.kid, 'k1');
    assert.equal(Buffer.from(first.iv, 'base64').length, 12);
    assert.equal(Buffer.from(first.tag, 'base64').length, 16);
    assert.notEqual(first.iv, second.iv, 'the same data saved twice gets a new IV');
    assert.notEqual(first.ct, second.ct);
    const everything = JSON.stringify(await inner.listStates());
    assert.ok(!everything.includes(SECRET) && !everything.includes('horse'), 'no plaintext under the layer');
    const stored = await inner.loadState(id);
    assert.equal(stored?.revision, 2, 'revisions are the storage’s own');
    assert.equal(stored?.version, 1, 'version passes through in clear');
  });

  it('the metadata record is hidden from listStates and its id is refused', async () => {
    const { inner, store } = encryptedMemory();
    await store.saveState(secretState(randomUUID()));
    assert.equal((await inner.listStates()).length, 2, 'record + metadata under the layer');
    assert.equal((await store.listStates()).length, 1, 'only the plugin’s state through the layer');
    for (const [name, operation] of [
      ['saveState', () => store.saveState(secretState(ENCRYPTION_METADATA_ID))],
      ['loadState', () => store.loadState(ENCRYPTION_METADATA_ID)],
      ['deleteState', () => store.deleteState(ENCRYPTION_METADATA_ID)],
    ] as const) {
      const error = await rejectsWith(name, ValidationError, 'VALIDATION', operation);
      assert.match(error.message, /reserved/);
    }
    assert.ok(await inner.loadState(ENCRYPTION_METADATA_ID), 'the metadata record is still there');
  });
});

describe('encryption layer: tampering is an IntegrityError', () => {
  it('two plugins’ ciphertexts swapped: both refused', async () => {
    const { inner, store } = encryptedMemory();
    const [a, b] = [randomUUID(), randomUUID()];
    await store.saveState(secretState(a));
    await store.saveState({ pluginId: b, data: 'the other plugin', lastModified: new Date() });
    const [envelopeA, envelopeB] = [await envelopeOf(inner, a), await envelopeOf(inner, b)];
    await plant(inner, a, envelopeB);
    await plant(inner, b, envelopeA);
    await refused(store, a, 'A holding B’s envelope');
    await refused(store, b, 'B holding A’s envelope');
  });

  it('a ciphertext copied into another plugin’s record: refused there, the original still reads', async () => {
    const { inner, store } = encryptedMemory();
    const [victim, attacker] = [randomUUID(), randomUUID()];
    await store.saveState(secretState(victim));
    await store.saveState({ pluginId: attacker, data: 'mine', lastModified: new Date() });
    await plant(inner, attacker, await envelopeOf(inner, victim));
    await refused(store, attacker, 'a copied ciphertext');
    assert.deepEqual((await store.loadState(victim))?.data, SECRET_DATA);
  });

  for (const field of ['iv', 'tag', 'ct'] as const) {
    it(`every byte of the ${field} flipped, one at a time (low bit and all bits): refused`, async () => {
      const { inner, store } = encryptedMemory();
      const id = randomUUID();
      await store.saveState(secretState(id));
      const original = await envelopeOf(inner, id);
      const length = Buffer.from(original[field], 'base64').length;
      assert.ok(length >= 12, `${field} is ${length} bytes`);
      for (let index = 0; index < length; index++) {
        for (const mask of [0x01, 0xff]) {
          await plant(inner, id, { ...original, [field]: flipped(original[field], index, mask) });
          await refused(store, id, `${field} byte ${index} ^ ${mask}`);
        }
      }
      await plant(inner, id, original);
      assert.deepEqual((await store.loadState(id))?.data, SECRET_DATA, 'the original reads');
    });
  }

  for (const bytes of [12, 4]) {
    it(`the tag cut to ${bytes} bytes: refused`, async () => {
      const { inner, store } = encryptedMemory();
      const id = randomUUID();
      await store.saveState(secretState(id));
      const original = await envelopeOf(inner, id);
      const cut = Buffer.from(original.tag, 'base64').subarray(0, bytes).toString('base64');
      await plant(inner, id, { ...original, tag: cut });
      const error = await refused(store, id, `tag of ${bytes} bytes`);
      assert.match(error.message, /tag/);
    });
  }

  it('the ciphertext cut short or extended: refused', async () => {
    const { inner, store } = encryptedMemory();
    const id = randomUUID();
    await store.saveState(secretState(id));
    const original = await envelopeOf(inner, id);
    const ct = Buffer.from(original.ct, 'base64');
    for (const changed of [
      ct.subarray(0, ct.length - 1),
      ct.subarray(1),
      Buffer.concat([ct, Buffer.from([0])]),
    ]) {
      await plant(inner, id, { ...original, ct: changed.toString('base64') });
      await refused(store, id, `ciphertext of ${changed.length} bytes`);
    }
  });

  it('a plaintext JSON record planted under the layer: refused, never returned', async () => {
    const { inner, store } = encryptedMemory();
    const id = randomUUID();
    await store.saveState(secretState(id));
    await plant(inner, id, { note: SECRET, admin: true });
    const error = await refused(store, id, 'planted plaintext');
    assert.match(error.message, /not an encrypted envelope/);
    assert.match(error.message, /never reads plaintext/);
    // A plaintext record planted for a new id, too.
    const fresh = randomUUID();
    await inner.saveState({ pluginId: fresh, data: 'plain', lastModified: new Date() });
    await refused(store, fresh, 'plaintext for a new id');
  });

  it('malformed envelopes are refused whatever their shape', async () => {
    const { inner, store } = encryptedMemory();
    const id = randomUUID();
    await store.saveState(secretState(id));
    const good = await envelopeOf(inner, id);
    const iv = Buffer.from(good.iv, 'base64');
    const cases: [string, unknown][] = [
      ['null', null],
      ['a string', SECRET],
      ['a number', 42],
      ['an array', [good]],
      ['an empty object', {}],
      ['format 2', { ...good, 'plugin-state:encrypted': 2 }],
      ['format "1"', { ...good, 'plugin-state:encrypted': '1' }],
      ['an extra field', { ...good, plaintext: SECRET }],
      ['no kid', { ...good, kid: undefined }],
      ['an empty kid', { ...good, kid: '' }],
      ['a kid with a NUL', { ...good, kid: 'k1\u0000x' }],
      ['no IV', { ...good, iv: undefined }],
      ['an 11-byte IV', { ...good, iv: iv.subarray(0, 11).toString('base64') }],
      ['a 16-byte IV', { ...good, iv: Buffer.concat([iv, iv]).subarray(0, 16).toString('base64') }],
      ['an IV with a space', { ...good, iv: ` ${good.iv.slice(1)}` }],
      [
        'a tag with non-zero padding bits',
        { ...good, tag: `${good.tag.slice(0, 21)}${nextChar(good.tag[21]!)}==` },
      ],
      ['an empty ciphertext', { ...good, ct: '' }],
      ['a ciphertext with a stray character', { ...good, ct: `${good.ct.slice(0, 4)}!${good.ct.slice(5)}` }],
      ['a ciphertext as a number', { ...good, ct: 5 }],
    ];
    for (const [name, data] of cases) {
      await plant(inner, id, data === undefined ? null : JSON.parse(JSON.stringify(data)));
      await refused(store, id, name);
    }
  });

  it('an IV in the URL-safe alphabet (the same bytes to Node’s lenient decoder): refused', async () => {
    const { inner, store } = encryptedMemory();
    const id = randomUUID();
    let envelope: StoredEnvelope;
    do {
      await store.saveState(secretState(id));
      envelope = await envelopeOf(inner, id);
    } while (!/[+/]/.test(envelope.iv)); // an IV whose base64 differs from its base64url
    const urlSafe = Buffer.from(envelope.iv, 'base64').toString('base64url');
    assert.deepEqual(Buffer.from(urlSafe, 'base64'), Buffer.from(envelope.iv, 'base64'), 'same bytes');
    await plant(inner, id, { ...envelope, iv: urlSafe });
    await refused(store, id, 'IV in base64url');
  });

  it('an unknown key id: refused, saying which key to add', async () => {
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const id = randomUUID();
    await encrypted(inner, { key: newKey('k2') }).saveState(secretState(id));
    const store = encrypted(inner, { key: newKey('k1') });
    const error = await refused(store, id, 'unknown key id');
    assert.match(error.message, /"k2"/);
    assert.match(error.message, /olderKeys/);
  });

  it('a record relabelled with another key id the store knows: refused', async () => {
    const [k1, k2] = [newKey('k1'), newKey('k2')];
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const store = encrypted(inner, { key: k1, olderKeys: [k2] });
    const id = randomUUID();
    await store.saveState(secretState(id));
    await plant(inner, id, { ...(await envelopeOf(inner, id)), kid: 'k2' });
    await refused(store, id, 'relabelled kid');
  });

  it('the schema version changed in clear: refused (the version is authenticated)', async () => {
    const { inner, store } = encryptedMemory();
    const id = randomUUID();
    await store.saveState(secretState(id, { version: 3 }));
    const stored = (await inner.loadState(id))!;
    await inner.saveState({ ...stored, version: 1 });
    await refused(store, id, 'version 3 relabelled 1');
  });

  it('a wrong key under the right id: refused on load and on save, nothing written', async () => {
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const id = randomUUID();
    await encrypted(inner, { key: newKey('k1') }).saveState(secretState(id));
    const before = await inner.loadState(id);
    const wrong = encrypted(inner, { key: newKey('k1') });
    const error = await refused(wrong, id, 'wrong key');
    assert.match(error.message, /wrong key/);
    const saving = await rejectsWith('save under a wrong key', IntegrityError, 'INTEGRITY', () =>
      wrong.saveState(secretState(randomUUID())),
    );
    assert.match(saving.message, /Nothing was written/);
    assert.deepEqual(await inner.loadState(id), before, 'the stored record is untouched');
    assert.equal((await inner.listStates()).length, 2, 'nothing new under the layer');
  });

  it('a wrong key when the metadata record is gone: authentication still refuses it', async () => {
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const id = randomUUID();
    await encrypted(inner, { key: newKey('k1') }).saveState(secretState(id));
    await inner.deleteState(ENCRYPTION_METADATA_ID);
    const error = await refused(encrypted(inner, { key: newKey('k1') }), id, 'wrong key, no key check');
    assert.match(error.message, /failed authentication/);
  });

  it('listStates with one tampered record: an IntegrityError naming it, and a report', async () => {
    const reports: StateReport[] = [];
    const { inner, store } = encryptedMemory({ onReport: (report) => reports.push(report) });
    const [good, bad] = [randomUUID(), randomUUID()];
    await store.saveState(secretState(good));
    await store.saveState(secretState(bad));
    const envelope = await envelopeOf(inner, bad);
    await plant(inner, bad, { ...envelope, ct: flipped(envelope.ct, 0, 1) } satisfies StoredEnvelope);
    const error = await rejectsWith('listStates', IntegrityError, 'INTEGRITY', () => store.listStates());
    assert.ok(error.message.includes(bad), error.message);
    assert.ok(!error.message.includes(SECRET));
    assert.ok(reports.some((report) => report.code === 'INTEGRITY' && report.pluginId === bad));
    assert.deepEqual((await store.loadState(good))?.data, SECRET_DATA, 'the others still load');
  });

  it('a malformed metadata record: the store refuses to open, saying what to restore', async () => {
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    await encrypted(inner, { key: newKey('k1') }).saveState(secretState(randomUUID()));
    await plant(inner, ENCRYPTION_METADATA_ID, { 'plugin-state:encryption-metadata': 1, keys: [] });
    const error = await rejectsWith('open', IntegrityError, 'INTEGRITY', () =>
      encrypted(inner, { key: newKey('k1') }).listStates(),
    );
    assert.match(error.message, /metadata record/);
    assert.match(error.message, /backup/);
  });
});

describe('encryption layer: limits', () => {
  it('plaintext limits are the layer’s; an inner store too small for the envelope says what to do', async () => {
    const inner = new MemoryStateStorage({ limits: { maxBytes: 1000 } });
    const store = encrypted(inner, { key: newKey('k1') });
    const error = await rejectsWith('save of 900 bytes', ValidationError, 'VALIDATION', () =>
      store.saveState({ pluginId: randomUUID(), data: 'x'.repeat(898), lastModified: new Date() }),
    );
    assert.match(error.message, /envelopeLimits/);
    const limited = encrypted(new MemoryStateStorage({ limits: envelopeLimits({ maxBytes: 1000 }) }), {
      key: newKey('k1'),
      limits: { maxBytes: 1000 },
    });
    await limited.saveState({ pluginId: randomUUID(), data: 'x'.repeat(998), lastModified: new Date() });
    await rejectsWith('1001 bytes', ValidationError, 'VALIDATION', () =>
      limited.saveState({ pluginId: randomUUID(), data: 'x'.repeat(999), lastModified: new Date() }),
    );
  });
});

function nextChar(char: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  return alphabet[(alphabet.indexOf(char) + 1) % 64]!;
}
