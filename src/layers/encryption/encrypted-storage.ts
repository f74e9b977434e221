import {
  IntegrityError,
  type PluginStateError,
  SerializationError,
  ValidationError,
} from '../../core/errors.js';
import { GuardedStorage, type ValidRecord, type WriteConditions } from '../../core/guarded-storage.js';
import { JsonDecodeError, parseStoredJson } from '../../core/json.js';
import type { StateLimits } from '../../core/limits.js';
import type { PluginStateStorage } from '../../core/storage.js';
import type { JsonValue, PluginId, PluginState, ReportHook, RevisionInfo } from '../../core/types.js';
import { checkEncryptionLimit, EncryptionBudget } from './encryption-budget.js';
import {
  additionalData,
  type EnvelopeParts,
  hasEnvelopeMarker,
  openEnvelope,
  readEnvelope,
  sealEnvelope,
} from './envelope.js';
import {
  notAnEnvelope,
  notAuthentic,
  reservedId,
  subjectOf,
  unknownKey,
  type Where,
  wrongKey,
} from './errors.js';
import { innerHistory, innerSaveOptions } from './history.js';
import { type KeyConfig, type KeyOptions, KeyRing, keyConfig, type ResolvedKey } from './key-ring.js';
import { configurationError } from './keys.js';
import { DecryptedListCache } from './list-cache.js';
import { ENCRYPTION_METADATA_ID, MetadataRecord } from './metadata.js';

/** Options of {@link encrypted}: the keys (exactly one of `key` and `keyProvider`) and policy. */
export interface EncryptionOptions extends KeyOptions {
  /**
   * Limits on the plaintext `data` of one state, enforced by the layer before encrypting; defaults:
   * depth 128, 10 MiB. The storage underneath stores base64, a third larger: create it with
   * `limits: envelopeLimits(sameLimits)`.
   */
  limits?: Partial<StateLimits>;
  /** Hears about integrity failures (beside the thrown error) and keys nearing their encryption limit. */
  onReport?: ReportHook;
  /**
   * Encryptions one key may do in this store before saves are refused until you rotate; default
   * 2^31, at most 2^32 (the bound for random 96-bit IVs).
   */
  maxEncryptionsPerKey?: number;
}

/** What `rotateKeys` needs of a layer; kept off the public surface. */
export interface LayerInternals {
  currentKeyId(): string;
  /** Every record but the metadata one, as the storage underneath holds it. */
  rawRecords(): Promise<PluginState[]>;
  rawRecord(pluginId: PluginId): Promise<PluginState | undefined>;
}

const internals = new WeakMap<object, LayerInternals>();

export function layerInternals(storage: unknown): LayerInternals | undefined {
  return typeof storage === 'object' && storage !== null ? internals.get(storage) : undefined;
}

/**
 * Authenticated encryption at rest over any storage (see {@link encrypted}). The plaintext passes
 * the shared guard (ids, plain JSON, limits) here; the storage underneath stores an envelope as the
 * state's `data`, and keeps doing what only it can do atomically: revisions, compare-and-set, the
 * `maxStoredVersion` check, and history (its own `history` option; each kept revision stays under
 * the key it was written with).
 */
export class EncryptedStateStorage extends GuardedStorage {
  readonly #inner: PluginStateStorage;
  readonly #keys: KeyConfig;
  readonly #metadata: MetadataRecord;
  readonly #budget: EncryptionBudget;
  #ring: KeyRing | undefined;
  readonly #listCache = new DecryptedListCache();

  constructor(storage: PluginStateStorage, options: EncryptionOptions) {
    super({ limits: options?.limits, onReport: options?.onReport });
    if (!storage || typeof storage.saveState !== 'function' || typeof storage.loadState !== 'function') {
      throw configurationError('encrypted: the first argument must be a PluginStateStorage.');
    }
    this.#inner = storage;
    this.#keys = keyConfig(options ?? {});
    this.#metadata = new MetadataRecord(storage, () => this.describeLocation());
    this.#budget = new EncryptionBudget(
      this.#metadata,
      checkEncryptionLimit(options.maxEncryptionsPerKey),
      (message) => this.report({ operation: 'saveState', message: `${this.describeLocation()}: ${message}` }),
    );
    internals.set(this, {
      currentKeyId: () => this.#ring!.current.id,
      rawRecords: async () =>
        (await this.#inner.listStates()).filter((state) => state.pluginId !== ENCRYPTION_METADATA_ID),
      rawRecord: (pluginId) => this.#inner.loadState(pluginId),
    });
  }

  protected describeLocation(pluginId?: PluginId): string {
    return innerLocation(this.#inner, pluginId);
  }

  protected async openStore(): Promise<void> {
    await this.#inner.open?.();
    await this.#metadata.load();
    this.#ring = await KeyRing.open(this.#keys, {
      metadata: this.#metadata,
      where: this.describeLocation(),
      hasEncryptedRecords: async () =>
        (await this.#inner.listStates()).some(
          (state) => state.pluginId !== ENCRYPTION_METADATA_ID && hasEnvelopeMarker(state.data),
        ),
    });
  }

  protected async writeRecord(record: ValidRecord, conditions: WriteConditions): Promise<number> {
    const { pluginId, version } = record;
    if (pluginId === ENCRYPTION_METADATA_ID) throw reservedId('saveState');
    const key = this.#ring!.current;
    const where = () => this.#where('saveState', pluginId);
    if (this.#mismatch(key)) throw wrongKey(where(), key.id, true);
    const reserving = this.#budget.take(key, where);
    if (reserving) await reserving;
    const envelope = sealEnvelope(
      key.key,
      key.id,
      additionalData(pluginId, key.id, version),
      record.dataJson,
    );
    try {
      const stored = await this.#inner.saveState(
        { pluginId, data: envelope, lastModified: record.lastModified, version },
        innerSaveOptions(conditions),
      );
      return stored.revision!;
    } catch (error) {
      if (error instanceof ValidationError) throw this.#refusedBelow(record, error);
      throw error;
    }
  }

  protected async readRecord(pluginId: PluginId): Promise<PluginState | undefined> {
    if (pluginId === ENCRYPTION_METADATA_ID) throw reservedId('loadState');
    const stored = await this.#inner.loadState(pluginId);
    return stored && this.#decrypt(stored, 'loadState');
  }

  /** The storage underneath keeps the deleted revision in its history, as its `history` option says. */
  protected async removeRecord(pluginId: PluginId): Promise<void> {
    if (pluginId === ENCRYPTION_METADATA_ID) throw reservedId('deleteState');
    this.#listCache.forget(pluginId);
    await this.#inner.deleteState(pluginId);
  }

  /**
   * The inner storage's list, with each `size` the plaintext's: AES-GCM ciphertext is exactly as
   * long as the plaintext (the data's UTF-8 JSON), so the size is read off each kept envelope
   * without decrypting it (one read of each kept revision underneath, no key needed). A revision
   * under a key this store no longer holds is still listed (its load is the typed error). Like every `RevisionInfo` field, the size is not authenticated here:
   * `loadRevision` authenticates. A kept record that is not an envelope at all is left out, and an
   * `IntegrityError` naming its revision goes to `onReport`; loading it is that error.
   */
  protected async listRecordRevisions(pluginId: PluginId): Promise<RevisionInfo[]> {
    if (pluginId === ENCRYPTION_METADATA_ID) throw reservedId('listRevisions');
    const inner = innerHistory(this.#inner, 'listRevisions', pluginId, this.describeLocation(pluginId));
    const revisions: RevisionInfo[] = [];
    for (const info of await inner.listRevisions(pluginId)) {
      const stored = await inner.loadRevision(pluginId, info.revision);
      // Dropped from history (by another instance's save or purge) since the list was read.
      if (!stored) continue;
      const parts = readEnvelope(stored.data);
      if (typeof parts === 'string') {
        // Left out and reported, as backends list around a record they cannot read: one bad revision
        // (say, plaintext kept from before encryption was turned on) must not hide the good ones.
        const error = notAnEnvelope(this.#where('listRevisions', pluginId, info.revision), parts);
        this.report({
          operation: 'listRevisions',
          pluginId,
          code: error.code,
          error,
          recovered: true,
          message: error.message,
        });
        continue;
      }
      const { revision, version, lastModified, current } = info;
      revisions.push({ revision, version, lastModified, size: parts.ct.length, current });
    }
    return revisions;
  }

  /**
   * One kept revision, authenticated and decrypted exactly like `loadState`: under any key of the
   * ring (an older key must still be in `olderKeys`), an `IntegrityError` naming the revision if it
   * fails. `restoreRevision` reads through here, then saves like any save: under the current key.
   */
  protected async readRecordRevision(pluginId: PluginId, revision: number): Promise<PluginState | undefined> {
    if (pluginId === ENCRYPTION_METADATA_ID) throw reservedId('loadRevision');
    const inner = innerHistory(this.#inner, 'loadRevision', pluginId, this.describeLocation(pluginId));
    const stored = await inner.loadRevision(pluginId, revision);
    return stored && this.#decrypt(stored, 'loadRevision', revision);
  }

  protected async purgeRecord(pluginId: PluginId): Promise<void> {
    if (pluginId === ENCRYPTION_METADATA_ID) throw reservedId('purgeState');
    const inner = innerHistory(this.#inner, 'purgeState', pluginId, this.describeLocation(pluginId));
    this.#listCache.forget(pluginId);
    await inner.purgeState(pluginId);
  }

  /**
   * Decrypts every record. A record that fails authentication is not skipped: tampering must be
   * heard, so the whole call is an `IntegrityError` (each failure is also reported to `onReport`).
   * A record the storage underneath finds corrupt follows that storage's rule (skipped or thrown).
   */
  protected async readAllRecords(): Promise<PluginState[]> {
    const stored = await this.#inner.listStates();
    const states: PluginState[] = [];
    const failures: PluginStateError[] = [];
    for (const state of stored) {
      if (state.pluginId === ENCRYPTION_METADATA_ID) continue;
      const cached = this.#listCache.lookup(state);
      if (cached) {
        states.push(cached);
        continue;
      }
      try {
        const pending = this.#decrypt(state, 'listStates');
        const decrypted = pending instanceof Promise ? await pending : pending;
        this.#listCache.remember(state, decrypted);
        states.push(decrypted);
      } catch (error) {
        if (!(error instanceof IntegrityError || error instanceof SerializationError)) {
          this.#listCache.discard();
          throw error;
        }
        failures.push(error);
      }
    }
    const first = failures[0];
    if (first) {
      this.#listCache.discard();
      const others = failures.length > 1 ? ` (and ${failures.length - 1} more, each sent to onReport)` : '';
      throw new IntegrityError(
        `listStates: ${failures.length} of ${stored.length} records in ${this.describeLocation()} could not be ` +
          `decrypted${others}, so nothing was listed. First: ${first.message}`,
        {
          operation: 'listStates',
          pluginId: first.pluginId,
          location: this.describeLocation(),
          cause: first,
        },
      );
    }
    this.#listCache.commit();
    return states;
  }

  protected async closeStore(): Promise<void> {
    await this.#inner.close?.();
  }

  /**
   * Decrypts one record; synchronous when its key is at hand (always, after the first use of a key).
   * With `revision`, the record is a kept revision and every error names it.
   */
  #decrypt(stored: PluginState, operation: string, revision?: number): PluginState | Promise<PluginState> {
    const fail = (error: unknown): never => {
      throw this.#heard(error);
    };
    try {
      const parts = readEnvelope(stored.data);
      if (typeof parts === 'string') {
        throw notAnEnvelope(this.#where(operation, stored.pluginId, revision), parts);
      }
      const key = this.#ring!.byId(parts.kid);
      if (key instanceof Promise) {
        return key.then((found) => this.#open(stored, parts, found, operation, revision)).catch(fail);
      }
      return this.#open(stored, parts, key, operation, revision);
    } catch (error) {
      return fail(error);
    }
  }

  /** Reports an integrity or serialization failure to `onReport` (beside the thrown error); returns it. */
  #heard(error: unknown): unknown {
    if (error instanceof IntegrityError || error instanceof SerializationError) {
      this.report({
        operation: error.operation ?? 'loadState',
        pluginId: error.pluginId,
        code: error.code,
        error,
        message: error.message,
      });
    }
    return error;
  }

  #open(
    stored: PluginState,
    parts: EnvelopeParts,
    key: ResolvedKey | undefined,
    operation: string,
    revision: number | undefined,
  ): PluginState {
    const { pluginId } = stored;
    const where = () => this.#where(operation, pluginId, revision);
    if (!key) throw unknownKey(where(), parts.kid);
    if (this.#mismatch(key)) throw wrongKey(where(), key.id, false);
    const version = stored.version ?? 1;
    let plaintext: Buffer;
    try {
      plaintext = openEnvelope(key.key, additionalData(pluginId, key.id, version), parts);
    } catch (error) {
      throw notAuthentic(where(), key.id, error);
    }
    let data: JsonValue;
    try {
      // Authenticated bytes were checked when they were saved; checked again all the same (UTF-8,
      // depth, prototype payloads), as every backend checks what it reads, in case a key holder
      // wrote them. The buffer, not a decoded string: decoding would replace invalid UTF-8 silently.
      data = parseStoredJson(plaintext, this.limits) as JsonValue;
    } catch (error) {
      if (!(error instanceof JsonDecodeError)) throw error;
      const { location } = where();
      throw new SerializationError(
        `${operation}: ${subjectOf(where())} in ${location} decrypted, but does not hold ` +
          `valid JSON data: ${error.message}. Nothing was returned. Restore the record from a backup, or delete it.`,
        { operation, pluginId, location, cause: error },
      );
    } finally {
      plaintext.fill(0);
    }
    return { pluginId, data, lastModified: stored.lastModified, version, revision: stored.revision };
  }

  /** True when the store's metadata holds another check value for this key id: a wrong key. */
  #mismatch(key: ResolvedKey): boolean {
    const usage = this.#metadata.snapshot?.keys.get(key.id);
    return usage !== undefined && usage.check !== key.check;
  }

  #where(operation: string, pluginId: PluginId, revision?: number): Where {
    const where: Where = { operation, pluginId, location: this.describeLocation(pluginId) };
    if (revision !== undefined) where.revision = revision;
    return where;
  }

  /** The storage underneath refused the envelope: with the data already checked, that is its size limit. */
  #refusedBelow(record: ValidRecord, error: ValidationError): ValidationError {
    const plain = Buffer.byteLength(record.dataJson);
    return new ValidationError(
      `saveState: the state of plugin ${record.pluginId} (${plain} bytes of data, a third more once encrypted ` +
        `as base64) was refused by the storage under the encryption layer: ${error.message} Create that ` +
        'storage with `limits: envelopeLimits(...)` so that it holds every state the layer accepts.',
      {
        operation: 'saveState',
        pluginId: record.pluginId,
        location: this.describeLocation(record.pluginId),
        issues: [...error.issues],
        cause: error,
      },
    );
  }
}

/**
 * Wraps any storage in authenticated encryption at rest: AES-256-GCM with a fresh random 96-bit IV
 * per write and a 128-bit tag; the plugin id, key id, format and schema version are authenticated
 * with the ciphertext. A record that is not a valid envelope, names an unknown key, was encrypted
 * under another key or has any byte changed is an `IntegrityError`: plaintext is never read back.
 *
 * `version`, `revision` and `lastModified` stay in clear beside the envelope (the storage needs the
 * revision for compare-and-set); they are not secret, and the ciphertext's length shows the data's
 * size. Closing the layer closes the storage it wraps.
 *
 * @example
 * const storage = encrypted(new FileSystemStateStorage('./states', { limits: envelopeLimits() }), {
 *   key: keyFromEnv('PLUGIN_STATE_KEY', { id: '2025-06' }),
 *   olderKeys: [keyFromEnv('PLUGIN_STATE_KEY_2024', { id: '2024-01' })],
 * });
 * const manager = new PluginStateManager(storage);
 */
export function encrypted(storage: PluginStateStorage, options: EncryptionOptions): EncryptedStateStorage {
  return new EncryptedStateStorage(storage, options);
}

/**
 * Where the storage underneath keeps a record, for messages. A `GuardedStorage` knows (its
 * `describeLocation` is protected only to keep it off the public surface); any other storage is
 * named by its class.
 */
function innerLocation(inner: PluginStateStorage, pluginId: PluginId | undefined): string {
  const describe = (inner as unknown as { describeLocation?: (id?: PluginId) => unknown }).describeLocation;
  if (typeof describe === 'function') {
    try {
      const location = describe.call(inner, pluginId);
      if (typeof location === 'string') return location;
    } catch {
      // fall through to the class name
    }
  }
  return inner.constructor?.name ?? 'the storage under the encryption layer';
}
