// The messages of the encryption layer's errors. Each names the operation, the plugin id and the
// place, says that nothing was decrypted or written, and says what to do.
import { IntegrityError, ValidationError } from '../../core/errors.js';
import type { PluginId } from '../../core/types.js';
import { ENCRYPTION_METADATA_ID } from './metadata.js';

export interface Where {
  operation: string;
  pluginId: PluginId;
  location: string;
}

function integrity(where: Where, message: string, cause?: unknown): IntegrityError {
  return new IntegrityError(
    `${where.operation}: the state of plugin ${where.pluginId} in ${where.location} ${message}`,
    {
      ...where,
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

const NOTHING_RETURNED = 'Nothing was decrypted or returned.';

export function notAnEnvelope(where: Where, reason: string): IntegrityError {
  return integrity(
    where,
    `was refused: ${reason}. The encryption layer never reads plaintext: the record was not written through ` +
      `it, or was altered. ${NOTHING_RETURNED} Restore the record from a backup, or delete it; if the store ` +
      'held plaintext states before encryption was turned on, encrypt them once with ' +
      'rotateKeys(storage, { encryptPlaintext: true }).',
  );
}

export function unknownKey(where: Where, kid: string): IntegrityError {
  return integrity(
    where,
    `is encrypted under the key "${kid}", which this store was not given. ${NOTHING_RETURNED} ` +
      `Add the key "${kid}" to olderKeys (or make your keyProvider return it), then run rotateKeys to ` +
      'move every record to the current key.',
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
      `or encrypted with another key of the same id. ${NOTHING_RETURNED} Restore the record from a backup, ` +
      'or delete it.',
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

export function reservedId(operation: string): ValidationError {
  return new ValidationError(
    `${operation}: plugin id ${ENCRYPTION_METADATA_ID} is reserved for the encryption layer's metadata record. ` +
      'Give the plugin another id.',
    { operation, pluginId: ENCRYPTION_METADATA_ID, issues: [{ path: 'pluginId', message: 'reserved' }] },
  );
}
