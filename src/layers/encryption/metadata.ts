import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError, IntegrityError } from '../../core/errors.js';
import type { PluginStateStorage } from '../../core/storage.js';
import type { JsonValue, PluginId } from '../../core/types.js';
import { isKeyId } from './keys.js';

/**
 * The id of the record in which the encryption layer keeps, in clear, what is not secret but must
 * live beside the data: the passphrase salt, and per key its check value and how many encryptions
 * it has done. A fixed UUID (version 8, "encryp" in its last group) that no plugin is given;
 * the layer hides it from `listStates` and refuses it as a plugin id.
 */
export const ENCRYPTION_METADATA_ID: PluginId = '00000000-0000-8000-8000-656e63727970';

const MARKER = 'plugin-state:encryption-metadata';
const FORMAT = 1;

/** What one key has done in this store. */
export interface KeyUsage {
  /** HMAC of the key id under the key (see `keyCheck`); tells a wrong key from a right one. */
  check: string;
  /** Encryptions reserved for this key so far, by every instance: never fewer than were done. */
  encryptions: number;
}

export interface EncryptionMetadata {
  /** Base64 scrypt salt, present once a passphrase key has been used with the store. */
  salt?: string;
  keys: Map<string, KeyUsage>;
}

/** Attempts of one compare-and-set update before giving up (each conflict means another writer won). */
const MAX_ATTEMPTS = 100;

/**
 * Reads and updates the metadata record of one inner storage. Updates are compare-and-set on the
 * record's revision, so several instances and processes sharing a store never lose each other's
 * counts or create two salts.
 *
 * With a storage that keeps history, each update keeps the replaced metadata in that storage's
 * history like any record (bounded by its `history` option): nothing secret (the record is in clear
 * anyway), and a lost or damaged record can be restored from there. The layer itself refuses the id
 * for every operation, history ones included.
 */
export class MetadataRecord {
  /** The latest version seen by this instance. */
  private latest: EncryptionMetadata | undefined;

  constructor(
    private readonly inner: PluginStateStorage,
    private readonly where: () => string,
  ) {}

  get snapshot(): EncryptionMetadata | undefined {
    return this.latest;
  }

  async load(): Promise<EncryptionMetadata | undefined> {
    return (await this.read()).metadata;
  }

  /**
   * Applies `change` to the stored metadata (or to an empty one) and stores it with compare-and-set,
   * reading again and reapplying after a conflict. `change` may throw to abort.
   */
  async update(change: (metadata: EncryptionMetadata) => void): Promise<EncryptionMetadata> {
    for (let attempt = 1; ; attempt++) {
      const { metadata, revision } = await this.read();
      const next: EncryptionMetadata = metadata ?? { keys: new Map() };
      change(next);
      try {
        await this.inner.saveState(
          { pluginId: ENCRYPTION_METADATA_ID, data: serialize(next), lastModified: new Date(), version: 1 },
          { expectedRevision: revision },
        );
        this.latest = next;
        return next;
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= MAX_ATTEMPTS) throw error;
        await sleep(Math.random() * Math.min(attempt, 20));
      }
    }
  }

  private async read(): Promise<{ metadata: EncryptionMetadata | undefined; revision: number }> {
    const stored = await this.inner.loadState(ENCRYPTION_METADATA_ID);
    if (!stored) return { metadata: undefined, revision: 0 };
    const metadata = parse(stored.data, this.where());
    this.latest = metadata;
    return { metadata, revision: stored.revision ?? 0 };
  }
}

function serialize(metadata: EncryptionMetadata): JsonValue {
  const keys: Record<string, JsonValue> = {};
  for (const [id, usage] of metadata.keys) keys[id] = { check: usage.check, encryptions: usage.encryptions };
  return { [MARKER]: FORMAT, ...(metadata.salt === undefined ? {} : { salt: metadata.salt }), keys };
}

function parse(data: JsonValue, where: string): EncryptionMetadata {
  const fail = (reason: string) =>
    new IntegrityError(
      `The encryption metadata record (plugin id ${ENCRYPTION_METADATA_ID}) in ${where} is not valid: ${reason}. ` +
        'It holds the passphrase salt and key checks; restore it from a backup of the store, or from the history ' +
        'of the storage underneath if it keeps one (listRevisions and restoreRevision of that id, called on that ' +
        'storage, not through the encryption layer). Nothing was changed.',
      { pluginId: ENCRYPTION_METADATA_ID, operation: 'open', location: where },
    );
  if (!isObject(data)) throw fail('it is not an object');
  if (data[MARKER] !== FORMAT)
    throw fail(`its format is ${JSON.stringify(data[MARKER])}, expected ${FORMAT}`);
  const metadata: EncryptionMetadata = { keys: new Map() };
  if (Object.hasOwn(data, 'salt')) {
    const salt = data.salt;
    const bytes = typeof salt === 'string' ? Buffer.from(salt, 'base64') : undefined;
    if (typeof salt !== 'string' || !bytes || bytes.toString('base64') !== salt || bytes.length < 16) {
      throw fail('its salt is not at least 16 bytes of base64');
    }
    metadata.salt = salt;
  }
  const keys = data.keys;
  if (!isObject(keys)) throw fail('its "keys" is not an object');
  for (const id of Object.keys(keys)) {
    const usage = keys[id];
    if (!isKeyId(id) || !isObject(usage)) throw fail(`its entry for key ${JSON.stringify(id)} is not valid`);
    const { check, encryptions } = usage;
    if (typeof check !== 'string' || check.length === 0) throw fail(`key ${id} has no check value`);
    if (typeof encryptions !== 'number' || !Number.isSafeInteger(encryptions) || encryptions < 0) {
      throw fail(`key ${id} has no valid encryption count`);
    }
    metadata.keys.set(id, { check, encryptions });
  }
  return metadata;
}

function isObject(value: unknown): value is Record<string, JsonValue> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
