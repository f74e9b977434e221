import { createHash, createHmac } from 'node:crypto';
import { ValidationError } from '../../core/errors.js';

/** AES-256 keys are 32 bytes. */
export const KEY_BYTES = 32;

/**
 * A 256-bit key and the id that records encrypted under it carry. The id is stored in clear in
 * every envelope (it says which key opens it), so it must not be secret; it must stay the same for
 * as long as records encrypted under the key exist.
 */
export interface EncryptionKey {
  /** 1 to 200 printable ASCII characters without spaces, e.g. `2025-06` or a KMS key version. */
  readonly id: string;
  /** Exactly 32 bytes. */
  readonly key: Uint8Array;
}

/**
 * Where keys come from when a host keeps them elsewhere: an OS keychain, a cloud KMS (typically a
 * data key unwrapped by the KMS), a secrets manager. The encryption layer asks for the current key
 * once when the store opens, and for an older key by id once, the first time it meets a record
 * encrypted under that id; it keeps the answers for the life of the store.
 *
 * @example
 * const provider: KeyProvider = {
 *   currentKey: async () => ({ id: 'kms-v7', key: await kms.unwrap('v7') }),
 *   keyById: async (id) => (id.startsWith('kms-v') ? { id, key: await kms.unwrap(id.slice(4)) } : undefined),
 * };
 * const storage = encrypted(inner, { keyProvider: provider });
 */
export interface KeyProvider {
  /** The key new writes are encrypted under. */
  currentKey(): EncryptionKey | Promise<EncryptionKey>;
  /** The key with this id, or `undefined` when the provider does not know it. */
  keyById(id: string): EncryptionKey | undefined | Promise<EncryptionKey | undefined>;
}

const KEY_ID = /^[\x21-\x7e]{1,200}$/;

/** True when `id` can name a key: it goes into the authenticated data after a NUL separator. */
export function isKeyId(id: unknown): id is string {
  return typeof id === 'string' && KEY_ID.test(id);
}

export function checkKeyId(id: unknown, where: string): string {
  if (isKeyId(id)) return id;
  throw configurationError(
    `${where}: the key id ${typeof id === 'string' ? JSON.stringify(id.slice(0, 40)) : typeof id} is not valid. ` +
      'Use 1 to 200 printable ASCII characters without spaces, e.g. "2025-06".',
  );
}

/** Checks a key given by a host and returns a private copy of its bytes. Never echoes the bytes. */
export function checkKey(value: unknown, where: string): { id: string; key: Buffer } {
  if (value === null || typeof value !== 'object') {
    throw configurationError(
      `${where}: expected a key { id, key }, got ${value === null ? 'null' : typeof value}.`,
    );
  }
  const { id, key } = value as Partial<EncryptionKey>;
  const checkedId = checkKeyId(id, where);
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    const got = key instanceof Uint8Array ? `${key.length} bytes` : typeof key;
    throw configurationError(
      `${where}: key "${checkedId}" must be exactly ${KEY_BYTES} bytes (a Buffer or Uint8Array), got ${got}. ` +
        'Generate one with `openssl rand -base64 32`.',
    );
  }
  return { id: checkedId, key: Buffer.from(key) };
}

/**
 * Decodes the text form of a key: 64 hexadecimal digits, or 32 bytes in base64 (44 characters with
 * its `=`; the URL-safe alphabet is accepted too). Surrounding whitespace (a trailing newline) is
 * ignored. Returns undefined for anything else; the caller says where the text came from.
 */
export function decodeKeyText(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(trimmed) || /^[A-Za-z0-9_-]{43}=?$/.test(trimmed)) {
    const bytes = Buffer.from(
      trimmed,
      trimmed.includes('-') || trimmed.includes('_') ? 'base64url' : 'base64',
    );
    return bytes.length === KEY_BYTES ? bytes : undefined;
  }
  return undefined;
}

/**
 * A default key id derived from the key itself: `key-` and 16 hex digits of a one-way hash. Two
 * different keys never share it by accident, and it says nothing useful about the key.
 */
export function fingerprintId(key: Uint8Array): string {
  const digest = createHash('sha256').update('plugin-state:encrypted key id\0').update(key).digest('hex');
  return `key-${digest.slice(0, 16)}`;
}

/**
 * The check value of a key, stored (not secret) in the store's metadata record the first time the
 * key encrypts there: a later key with the same id but other bytes — a wrong passphrase, a wrong
 * file — is then recognised as wrong before anything is decrypted or written.
 */
export function keyCheck(id: string, key: Buffer): string {
  return createHmac('sha256', key).update(`plugin-state:encrypted key check\0${id}`).digest('base64');
}

export function configurationError(message: string): ValidationError {
  return new ValidationError(message, { operation: 'configure' });
}
