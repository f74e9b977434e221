import { setTimeout as sleep } from 'node:timers/promises';
import { BatchError, type BatchFailure, ConflictError } from '../../core/errors.js';
import type { PluginId, PluginState } from '../../core/types.js';
import { type EncryptedStateStorage, layerInternals } from './encrypted-storage.js';
import { hasEnvelopeMarker, readEnvelope } from './envelope.js';
import { configurationError } from './keys.js';

/** What happened to one record. */
export type RotationOutcome =
  /** Re-encrypted under the current key. */
  | 'rotated'
  /** Already under the current key (possibly written by a save during the rotation): left as is. */
  | 'current'
  /** Deleted while the rotation ran. */
  | 'deleted'
  /** Plaintext, encrypted for the first time (only with `encryptPlaintext`). */
  | 'encrypted'
  /** Could not be decrypted or saved; see the `BatchError` at the end. */
  | 'failed';

export interface RotationProgress {
  /** Records handled so far, this one included. */
  done: number;
  total: number;
  pluginId: PluginId;
  outcome: RotationOutcome;
}

export interface RotationOptions {
  /** Called after each record; a throwing callback is ignored. */
  onProgress?: (progress: RotationProgress) => void;
  /**
   * Also encrypt records that hold plaintext, once, when turning encryption on for a store that
   * had plain states. Only for a store whose plaintext records you know to be your own: whatever a
   * plaintext record holds then, it is encrypted as if you had saved it. Default false: a plaintext
   * record fails the rotation like any other record that is not a valid envelope.
   */
  encryptPlaintext?: boolean;
  /** Records re-encrypted at the same time; default 4. */
  concurrency?: number;
}

export interface RotationResult {
  /** The key every record is now encrypted under. */
  keyId: string;
  total: number;
  rotated: number;
  alreadyCurrent: number;
  deleted: number;
  encrypted: number;
}

/** Compare-and-set attempts per record before its failure is reported (each conflict is a concurrent save). */
const MAX_ATTEMPTS = 50;

/**
 * Re-encrypts now, under the store's current key, every record written under an older key, so that
 * the older keys can then be retired. Safe while the store is in use, by this instance or others:
 * each record is read and written back with compare-and-set, and a record changed in between is
 * read again (a save during the rotation is never overwritten; it is already under the current key).
 * A record that cannot be decrypted does not stop the others: they are all done first, then the
 * call rejects with a `BatchError` listing the failures.
 *
 * A re-encrypted record gets a new revision (its data, version and lastModified are unchanged), so
 * a plugin holding an older revision gets a `ConflictError` on its next compare-and-set save, as it
 * would after any concurrent write. Give every instance the new current key before rotating:
 * an instance still writing under an old key puts records back under it.
 *
 * History is not re-encrypted: it is never rewritten. The storage underneath keeps each replaced
 * revision (the one each re-encryption replaces too) and each deleted state's last revision as it
 * was written, under its old key, until it ages out (after `history` more saves of that state) or
 * the state is purged (`purgeState`, which removes the current state too). Keep the old key in
 * `olderKeys` while such history is kept, or `loadRevision` and `restoreRevision` of it are an
 * `IntegrityError`. With `encryptPlaintext`, the plaintext revisions so replaced stay in that
 * history in clear: run it over a storage opened with `history: 0`, which drops the history of each
 * state it rewrites.
 *
 * @example
 * const storage = encrypted(inner, { key: newKey, olderKeys: [oldKey] });
 * const result = await rotateKeys(storage, {
 *   onProgress: ({ done, total }) => console.error(`rotated ${done}/${total}`),
 * });
 * // Every current state is now under newKey. Keep oldKey in olderKeys while the history written
 * // under it is kept (see above); then it may be dropped.
 */
export async function rotateKeys(
  storage: EncryptedStateStorage,
  options: RotationOptions = {},
): Promise<RotationResult> {
  const layer = layerInternals(storage);
  if (!layer) {
    throw configurationError(
      'rotateKeys: expected the storage returned by encrypted(...) itself (not a layer around it).',
    );
  }
  const concurrency = options.concurrency ?? 4;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw configurationError(
      `rotateKeys: concurrency must be a whole number >= 1, got ${String(concurrency)}.`,
    );
  }
  await storage.open();
  const keyId = layer.currentKeyId();
  const ids = (await layer.rawRecords()).map((state) => state.pluginId);
  const result: RotationResult = {
    keyId,
    total: ids.length,
    rotated: 0,
    alreadyCurrent: 0,
    deleted: 0,
    encrypted: 0,
  };
  const failures: BatchFailure[] = [];
  let done = 0;

  const rotateOne = async (pluginId: PluginId): Promise<RotationOutcome> => {
    for (let attempt = 1; ; attempt++) {
      const raw = await layer.rawRecord(pluginId);
      if (!raw) return 'deleted';
      const parts = readEnvelope(raw.data);
      if (typeof parts !== 'string' && parts.kid === keyId) return 'current';
      const plaintext =
        typeof parts === 'string' && options.encryptPlaintext === true && !hasEnvelopeMarker(raw.data);
      // Through the layer: decryption fails here exactly as a load would (IntegrityError), and the
      // save is checked and encrypted like any other.
      const state: PluginState | undefined = plaintext ? raw : await storage.loadState(pluginId);
      if (!state) return 'deleted';
      try {
        await storage.saveState(
          { pluginId, data: state.data, lastModified: state.lastModified, version: state.version ?? 1 },
          { expectedRevision: state.revision ?? 0 },
        );
        return plaintext ? 'encrypted' : 'rotated';
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= MAX_ATTEMPTS) throw error;
        await sleep(Math.random() * Math.min(attempt, 10));
      }
    }
  };

  const record = (pluginId: PluginId, outcome: RotationOutcome) => {
    if (outcome === 'rotated') result.rotated++;
    else if (outcome === 'current') result.alreadyCurrent++;
    else if (outcome === 'deleted') result.deleted++;
    else if (outcome === 'encrypted') result.encrypted++;
    done++;
    try {
      options.onProgress?.({ done, total: ids.length, pluginId, outcome });
    } catch {
      // A host's progress display must not stop a rotation half-way.
    }
  };

  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const pluginId = ids[next++]!;
      try {
        record(pluginId, await rotateOne(pluginId));
      } catch (error) {
        failures.push({ pluginId, error });
        record(pluginId, 'failed');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(ids.length, 1)) }, worker));
  if (failures.length > 0) throw new BatchError('rotateKeys', failures, ids.length);
  return result;
}
