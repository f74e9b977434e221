import { randomBytes } from 'node:crypto';
import { IntegrityError } from '../../core/errors.js';
import { checkKey, configurationError, type EncryptionKey, type KeyProvider, keyCheck } from './keys.js';
import { ENCRYPTION_METADATA_ID, type MetadataRecord } from './metadata.js';
import { PassphraseKey, SCRYPT_PARAMETERS } from './passphrase.js';

/** A key as the layer holds it: its id, a private copy of its bytes, and its check value. */
export interface ResolvedKey {
  readonly id: string;
  readonly key: Buffer;
  readonly check: string;
}

/** A key given directly: raw bytes, or a passphrase that the store's salt turns into a key. */
export type KeyInput = EncryptionKey | PassphraseKey;

/** The keys of an encrypted store: exactly one of `key` and `keyProvider`. */
export interface KeyOptions {
  /** The current key: new writes are encrypted under it. */
  key?: KeyInput;
  /** Keys of records not yet re-encrypted under `key`: read, never written with. */
  olderKeys?: readonly KeyInput[];
  /** Instead of `key` and `olderKeys`: a keychain, KMS or secrets manager. */
  keyProvider?: KeyProvider;
}

type Entry = { id: string; key: Buffer } | PassphraseKey;

/** The validated key configuration of a store, checked when the layer is created. */
export type KeyConfig =
  | { kind: 'static'; current: Entry; byId: Map<string, Entry> }
  | { kind: 'provider'; provider: KeyProvider };

export function keyConfig(options: KeyOptions): KeyConfig {
  const { key, olderKeys = [], keyProvider } = options;
  if ((key === undefined) === (keyProvider === undefined)) {
    throw configurationError(
      'encrypted: give exactly one of `key` (with optional `olderKeys`) and `keyProvider`.',
    );
  }
  if (keyProvider !== undefined) {
    if (olderKeys.length > 0) {
      throw configurationError(
        'encrypted: `olderKeys` goes with `key`; a `keyProvider` answers keyById itself.',
      );
    }
    if (typeof keyProvider.currentKey !== 'function' || typeof keyProvider.keyById !== 'function') {
      throw configurationError('encrypted: a keyProvider has currentKey() and keyById(id).');
    }
    return { kind: 'provider', provider: keyProvider };
  }
  const entry = (input: KeyInput, where: string): Entry =>
    input instanceof PassphraseKey ? input : checkKey(input, where);
  const current = entry(key!, 'encrypted: key');
  const byId = new Map<string, Entry>([[current.id, current]]);
  olderKeys.forEach((input, index) => {
    const older = entry(input, `encrypted: olderKeys[${index}]`);
    if (byId.has(older.id)) {
      throw configurationError(
        `encrypted: two keys have the id "${older.id}". Each key needs its own id: records name the key that opens them.`,
      );
    }
    byId.set(older.id, older);
  });
  return { kind: 'static', current, byId };
}

/** What the ring needs from the store when it opens. */
export interface RingContext {
  metadata: MetadataRecord;
  where: string;
  /** Whether the store already holds encrypted records (asked only when a salt must be created). */
  hasEncryptedRecords(): Promise<boolean>;
}

/**
 * The keys of one open store. The current key is resolved (and a passphrase derived) once, when
 * the store opens; an older key once, the first time a record needs it. After that, finding a key
 * is a map lookup.
 */
export class KeyRing {
  private readonly resolved = new Map<string, ResolvedKey>();
  private readonly pending = new Map<string, Promise<ResolvedKey | undefined>>();

  private constructor(
    private readonly config: KeyConfig,
    private readonly salt: Buffer | undefined,
    readonly current: ResolvedKey,
  ) {
    this.resolved.set(current.id, current);
  }

  static async open(config: KeyConfig, context: RingContext): Promise<KeyRing> {
    if (config.kind === 'provider') {
      const current = resolve(await config.provider.currentKey(), 'keyProvider.currentKey()');
      return new KeyRing(config, undefined, current);
    }
    const needsSalt = [...config.byId.values()].some((entry) => entry instanceof PassphraseKey);
    const salt = needsSalt ? await storeSalt(context) : undefined;
    const current = await resolveEntry(config.current, salt);
    return new KeyRing(config, salt, current);
  }

  /** The key with `id`: at once when known, else a promise; undefined when no key has that id. */
  byId(id: string): ResolvedKey | Promise<ResolvedKey | undefined> | undefined {
    const known = this.resolved.get(id);
    if (known) return known;
    let lookup = this.pending.get(id);
    if (!lookup) {
      lookup = this.lookUp(id).then((key) => {
        if (key) this.resolved.set(id, key);
        return key;
      });
      // A provider that failed (a KMS outage) is asked again next time.
      lookup.then(
        () => this.pending.delete(id),
        () => this.pending.delete(id),
      );
      this.pending.set(id, lookup);
    }
    return lookup;
  }

  private async lookUp(id: string): Promise<ResolvedKey | undefined> {
    if (this.config.kind === 'static') {
      const entry = this.config.byId.get(id);
      return entry && resolveEntry(entry, this.salt);
    }
    const key = await this.config.provider.keyById(id);
    if (key === undefined) return undefined;
    const resolved = resolve(key, `keyProvider.keyById(${JSON.stringify(id)})`);
    if (resolved.id !== id) {
      throw configurationError(
        `keyProvider.keyById(${JSON.stringify(id)}) returned the key "${resolved.id}"; it must return the key with the id asked for, or undefined.`,
      );
    }
    return resolved;
  }
}

function resolve(key: EncryptionKey, where: string): ResolvedKey {
  const checked = checkKey(key, where);
  return { id: checked.id, key: checked.key, check: keyCheck(checked.id, checked.key) };
}

async function resolveEntry(entry: Entry, salt: Buffer | undefined): Promise<ResolvedKey> {
  if (!(entry instanceof PassphraseKey)) {
    return { id: entry.id, key: entry.key, check: keyCheck(entry.id, entry.key) };
  }
  const key = await entry.derive(salt!);
  return { id: entry.id, key, check: keyCheck(entry.id, key) };
}

/**
 * The store's scrypt salt: the stored one, or a new one created once. A store that already holds
 * encrypted records but has lost its salt is refused: a new salt would make every record unreadable.
 */
async function storeSalt(context: RingContext): Promise<Buffer> {
  const stored = context.metadata.snapshot?.salt ?? (await context.metadata.load())?.salt;
  if (stored !== undefined) return Buffer.from(stored, 'base64');
  if (await context.hasEncryptedRecords()) {
    throw new IntegrityError(
      `open: ${context.where} holds encrypted states but no passphrase salt: its encryption metadata record ` +
        'is missing or was replaced. Restore that record from a backup of the store, or from the history of the ' +
        `storage underneath (its restoreRevision("${ENCRYPTION_METADATA_ID}", revision), if it keeps history); ` +
        'without the salt a passphrase cannot give back the key. Nothing was changed.',
      { operation: 'open', location: context.where },
    );
  }
  const created = randomBytes(SCRYPT_PARAMETERS.saltBytes).toString('base64');
  // Compare-and-set: when two instances open a new store at once, both end up with the winner's salt.
  const metadata = await context.metadata.update((current) => {
    current.salt ??= created;
  });
  return Buffer.from(metadata.salt!, 'base64');
}
