// The messages of the encryption layer's errors. Each names the operation, the plugin id and the
// place, says that nothing was decrypted or written, and says what to do.
import { IntegrityError, StorageError, ValidationError } from '../../core/errors.js';
import type { PluginId } from '../../core/types.js';
import { ENCRYPTION_METADATA_ID } from './metadata.js';

export interface Where {
  operation: string;
  pluginId: PluginId;
  location: string;
  /** Set when the record is a kept revision (`loadRevision`, `listRevisions`): messages name it. */
  revision?: number;
}

/** "the state of plugin …", or "revision 3 of the state of plugin …" for a kept revision. */
export function subjectOf(where: Where): string {
  const state = `the state of plugin ${where.pluginId}`;
  return where.revision === undefined ? state : `revision ${where.revision} of ${state}`;
}

function integrity(where: Where, message: string, cause?: unknown): IntegrityError {
  const { operation, pluginId, location } = where;
  return new IntegrityError(`${operation}: ${subjectOf(where)} in ${location} ${message}`, {
    operation,
    pluginId,
    location,
    ...(cause === undefined ? {} : { cause }),
  });
}

const NOTHING_RETURNED = 'Nothing was decrypted or returned.';

/**
 * History is never rewritten, so a bad kept revision cannot be repaired in place: another revision
 * can be restored, or the state purged with its history.
 */
const BAD_REVISION =
  'History is never rewritten: restore another revision (see listRevisions), or remove the state with its ' +
  'whole history (purgeState).';

export function notAnEnvelope(where: Where, reason: string): IntegrityError {
  const remedy =
    where.revision === undefined
      ? 'Restore the record from a backup, or delete it; if the store held plaintext states before encryption ' +
        'was turned on, encrypt them once with rotateKeys(storage, { encryptPlaintext: true }).'
      : `${BAD_REVISION} A revision kept from before encryption was turned on stays in plaintext until it ages ` +
        'out of history.';
  return integrity(
    where,
    `was refused: ${reason}. The encryption layer never reads plaintext: the record was not written through ` +
      `it, or was altered. ${NOTHING_RETURNED} ${remedy}`,
  );
}

export function unknownKey(where: Where, kid: string): IntegrityError {
  const then =
    where.revision === undefined
      ? 'then run rotateKeys to move every record to the current key.'
      : 'and keep it there while history encrypted under it is kept: rotateKeys re-encrypts current states ' +
        'only, never history, which keeps each revision under the key it was written with until it ages out ' +
        'or its state is purged (purgeState).';
  return integrity(
    where,
    `is encrypted under the key "${kid}", which this store was not given. ${NOTHING_RETURNED} ` +
      `Add the key "${kid}" to olderKeys (or make your keyProvider return it), ${then}`,
  );
}

export function wrongKey(where: Where, kid: string, writing: boolean): IntegrityError {
  const outcome = writing ? 'Nothing was written.' : NOTHING_RETURNED;
  return integrity(
    where,
    `${writing ? 'cannot be encrypted' : 'cannot be decrypted'}: the key given as "${kid}" is not the key that ` +
      `encrypted under that id in this store (its check value in the encryption metadata record differs): ` +
      `a wrong key, key file or passphrase. ${outcome} Give the store the right key for "${kid}".`,
  );
}

export function notAuthentic(where: Where, kid: string, cause: unknown): IntegrityError {
  return integrity(
    where,
    `failed authentication under the key "${kid}": it was tampered with, moved from another plugin's record, ` +
      `or encrypted with another key of the same id. ${NOTHING_RETURNED} ` +
      (where.revision === undefined ? 'Restore the record from a backup, or delete it.' : BAD_REVISION),
    cause,
  );
}

export function keyWornOut(where: Where, kid: string, limit: number): IntegrityError {
  return integrity(
    where,
    `was not saved: the key "${kid}" has reached its limit of ${limit} encryptions in this store ` +
      '(with random 96-bit IVs a key must stay well below 2^32 encryptions). Nothing was written. Rotate: ' +
      `make a new key the current key, keep "${kid}" in olderKeys, and run rotateKeys(storage).`,
  );
}

/** The storage under the layer has no history methods, so the layer has no history to offer. */
export function noHistory(operation: string, pluginId: PluginId, location: string): StorageError {
  return new StorageError(
    `${operation}: the storage under the encryption layer (${location}) keeps no history: it has no ` +
      'listRevisions, loadRevision and purgeState. The encryption layer keeps no history of its own; use a ' +
      'storage that keeps it (every built-in one does) to list, load, restore or purge revisions.',
    { operation, pluginId, location },
  );
}

export function reservedId(operation: string): ValidationError {
  return new ValidationError(
    `${operation}: plugin id ${ENCRYPTION_METADATA_ID} is reserved for the encryption layer's metadata record. ` +
      'Give the plugin another id.',
    { operation, pluginId: ENCRYPTION_METADATA_ID, issues: [{ path: 'pluginId', message: 'reserved' }] },
  );
}
