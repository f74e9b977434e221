// Keys and stores for the encryption layer's tests.
import { randomBytes } from 'node:crypto';
import type { StateLimits } from '../../../src/core/limits.js';
import { MemoryStateStorage, type PluginStateStorage } from '../../../src/index.js';
import {
  type EncryptionKey,
  type EncryptionOptions,
  encrypted,
  envelopeLimits,
} from '../../../src/layers/encryption/index.js';

export function newKey(id: string): EncryptionKey {
  return { id, key: randomBytes(32) };
}

/** An encrypted store over a memory store; returns both, so a test can reach under the layer. */
export function encryptedMemory(
  options: Partial<EncryptionOptions> = {},
  limits?: Partial<StateLimits>,
): { inner: MemoryStateStorage; store: ReturnType<typeof encrypted>; key: EncryptionKey } {
  const inner = new MemoryStateStorage({ limits: envelopeLimits(limits) });
  const key = newKey('k1');
  const store = encrypted(inner, { key, ...options, ...(limits ? { limits } : {}) } as EncryptionOptions);
  return { inner, store, key };
}

/** The envelope fields of a record as the storage underneath holds it. */
export interface StoredEnvelope {
  'plugin-state:encrypted': number;
  kid: string;
  iv: string;
  tag: string;
  ct: string;
}

export async function envelopeOf(inner: PluginStateStorage, pluginId: string): Promise<StoredEnvelope> {
  const stored = await inner.loadState(pluginId);
  if (!stored) throw new Error(`no record for ${pluginId} under the layer`);
  return stored.data as unknown as StoredEnvelope;
}

/** Overwrites a record's data under the layer, keeping its version and lastModified. */
export async function plant(inner: PluginStateStorage, pluginId: string, data: unknown): Promise<void> {
  const stored = await inner.loadState(pluginId);
  await inner.saveState({
    pluginId,
    data: data as never,
    lastModified: stored?.lastModified ?? new Date(),
    version: stored?.version ?? 1,
  });
}
