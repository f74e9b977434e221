import { scrypt } from 'node:crypto';
import { inspect } from 'node:util';
import { checkKeyId, configurationError, KEY_BYTES } from './keys.js';

/**
 * scrypt parameters for passphrases: N = 2^17, r = 8, p = 1 (128 MiB and a few hundred
 * milliseconds per derivation, the cost OWASP recommends), a 16-byte random salt per store.
 * Fixed: changing them would change every derived key.
 */
export const SCRYPT_PARAMETERS = Object.freeze({
  N: 2 ** 17,
  r: 8,
  p: 1,
  keyBytes: KEY_BYTES,
  saltBytes: 16,
  /** Node's default `maxmem` (32 MiB) is below the 128 MiB that N = 2^17, r = 8 needs. */
  maxmem: 256 * 1024 * 1024,
});

let derivations = 0;

/** How many scrypt derivations this process has run (for tests: one per store and salt). */
export function scryptDerivationCount(): number {
  return derivations;
}

/**
 * A key derived from a passphrase with scrypt and the store's salt. The salt lives beside the data,
 * in the store's encryption metadata record, created once when the store is first used; the key is
 * derived once per store (and salt), in Node's thread pool, never per operation.
 *
 * The passphrase is held only inside this object, and never printed by `console.log` or
 * `JSON.stringify`.
 */
export class PassphraseKey {
  readonly id: string;
  readonly #passphrase: Buffer;
  readonly #derived = new Map<string, Promise<Buffer>>();

  constructor(passphrase: string, id: string) {
    if (typeof passphrase !== 'string' || passphrase.length === 0) {
      throw configurationError('passphraseKey: the passphrase is empty. Pass a long, secret passphrase.');
    }
    this.id = checkKeyId(id, 'passphraseKey');
    // NFC: the same passphrase typed on any system gives the same bytes.
    this.#passphrase = Buffer.from(passphrase.normalize('NFC'), 'utf8');
  }

  /** The key for `salt`; derived on the first call, the same promise afterwards. */
  derive(salt: Buffer): Promise<Buffer> {
    const memo = salt.toString('base64');
    let key = this.#derived.get(memo);
    if (!key) {
      key = new Promise<Buffer>((resolve, reject) => {
        derivations++;
        const { N, r, p, keyBytes, maxmem } = SCRYPT_PARAMETERS;
        scrypt(this.#passphrase, salt, keyBytes, { N, r, p, maxmem }, (error, derived) =>
          error ? reject(error) : resolve(derived),
        );
      });
      // A failed derivation (out of memory) may be tried again by a later open.
      key.catch(() => this.#derived.delete(memo));
      this.#derived.set(memo, key);
    }
    return key;
  }

  toJSON(): { id: string; passphrase: string } {
    return { id: this.id, passphrase: '[hidden]' };
  }

  [inspect.custom](): string {
    return `PassphraseKey { id: ${JSON.stringify(this.id)}, passphrase: [hidden] }`;
  }
}

/**
 * A key from a passphrase, stretched with scrypt (see {@link SCRYPT_PARAMETERS}). Give each
 * passphrase its own `id` (default `passphrase`): to change the passphrase, make the new one the
 * `key` under a new id, keep the old one in `olderKeys`, and run `rotateKeys`.
 *
 * @example
 * const storage = encrypted(inner, { key: passphraseKey(process.env.STATE_PASSPHRASE!, { id: 'pw-2025' }) });
 */
export function passphraseKey(passphrase: string, options: { id?: string } = {}): PassphraseKey {
  return new PassphraseKey(passphrase, options.id ?? 'passphrase');
}
