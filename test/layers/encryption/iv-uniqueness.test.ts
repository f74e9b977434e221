// A fresh random IV for every encryption: 1,000,000 encryptions through the layer's own sealing
// function (the one every save calls), tiny payloads, no IV seen twice. About 7 s on a small CI
// machine; the IVs are kept as their base64 text in a Set.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { additionalData, IV_BYTES, sealEnvelope } from '../../../src/layers/encryption/envelope.js';
import { encryptedMemory, envelopeOf } from './helpers.js';

const ENCRYPTIONS = 1_000_000;

describe('IVs', () => {
  it(`${ENCRYPTIONS.toLocaleString('en')} encryptions under one key never repeat an IV`, () => {
    const key = randomBytes(32);
    const aad = additionalData(randomUUID(), 'k1', 1);
    const seen = new Set<string>();
    for (let count = 0; count < ENCRYPTIONS; count++) {
      const { iv } = sealEnvelope(key, 'k1', aad, '0');
      seen.add(iv);
    }
    assert.equal(seen.size, ENCRYPTIONS, `${ENCRYPTIONS - seen.size} IVs were repeated`);
    for (const iv of [...seen].slice(0, 1000)) assert.equal(Buffer.from(iv, 'base64').length, IV_BYTES);
  });

  it('10,000 saves through the layer store 10,000 different IVs', async () => {
    const { inner, store } = encryptedMemory();
    const id = randomUUID();
    const seen = new Set<string>();
    for (let save = 0; save < 10_000; save++) {
      await store.saveState({ pluginId: id, data: 0, lastModified: new Date() });
      seen.add((await envelopeOf(inner, id)).iv);
    }
    assert.equal(seen.size, 10_000);
  });
});
