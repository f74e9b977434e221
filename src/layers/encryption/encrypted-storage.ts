import {
  IntegrityError,
  type PluginStateError,
  SerializationError,
  ValidationError,
} from '../../core/errors.js';
import { GuardedStorage, type ValidRecord } from '../../core/guarded-storage.js';
import { JsonDecodeError, parseStoredJson } from '../../core/json.js';
import type { StateLimits } from '../../core/limits.js';
import type { PluginStateStorage } from '../../core/storage.js';
import type { JsonValue, PluginId, PluginState, ReportHook } from '../../core/types.js';
import { checkEncryptionLimit, EncryptionBudget } from './encryption-budget.js';
import {
  additionalData,
  type EnvelopeParts,
  hasEnvelopeMarker,
  openEnvelope,
  readEnvelope,
  sealEnvelope,
} from './envelope.js';
import { notAnEnvelope, notAuthentic, reservedId, unknownKey, type Where, wrongKey } from './errors.js';
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
 * state's `data`, and keeps doing what only it can do atomically: revisions and compare-and-set.
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

  protected async writeRecord(record: ValidRecord, expectedRevision: number | undefined): Promise<number> {
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
        expectedRevision === undefined ? undefined : { expectedRevision },
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

  protected async removeRecord(pluginId: PluginId): Promise<void> {
    if (pluginId === ENCRYPTION_METADATA_ID) throw reservedId('deleteState');
    await this.#inner.deleteState(pluginId);
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

  /** Decrypts one record; synchronous when its key is at hand (always, after the first use of a key). */
  #decrypt(stored: PluginState, operation: string): PluginState | Promise<PluginState> {
    const fail = (error: unknown): never => {
      if (error instanceof IntegrityError || error instanceof SerializationError) {
        this.report({
          operation,
          pluginId: stored.pluginId,
          code: error.code,
          error,
          message: error.message,
        });
      }
      throw error;
    };
    try {
      const parts = readEnvelope(stored.data);
      if (typeof parts === 'string') throw notAnEnvelope(this.#where(operation, stored.pluginId), parts);
      const key = this.#ring!.byId(parts.kid);
      if (key instanceof Promise) {
        return key.then((found) => this.#open(stored, parts, found, operation)).catch(fail);
      }
      return this.#open(stored, parts, key, operation);
    } catch (error) {
      return fail(error);
    }
  }

  #open(
    stored: PluginState,
    parts: EnvelopeParts,
    key: ResolvedKey | undefined,
    operation: string,
  ): PluginState {
    const { pluginId } = stored;
    const where = () => this.#where(operation, pluginId);
    if (!key) throw unknownKey(where(), parts.kid);
    if (this.#mismatch(key)) throw wrongKey(where(), key.id, false);
    const version = stored.version ?? 1;
    let plaintext: Buffer;
    try {
      plaintext = openEnvelope(key.key, additionalData(pluginId, key.id, version), parts);
    } catch (error) {
      throw notAuthentic(where(), key.id, error);
    }
    const text = plaintext.toString('utf8');
    plaintext.fill(0);
    let data: JsonValue;
    try {
      // Authenticated bytes were checked when they were saved; checked again all the same (depth,
      // prototype payloads), as every backend checks what it reads, in case a key holder wrote them.
      data = parseStoredJson(text, this.limits) as JsonValue;
    } catch (error) {
      if (!(error instanceof JsonDecodeError)) throw error;
      throw new SerializationError(
        `${operation}: the state of plugin ${pluginId} in ${where().location} decrypted, but does not hold ` +
          `valid JSON data: ${error.message}. Nothing was returned. Restore the record from a backup, or delete it.`,
        { ...where(), cause: error },
      );
    }
    return { pluginId, data, lastModified: stored.lastModified, version, revision: stored.revision };
  }

  /** True when the store's metadata holds another check value for this key id: a wrong key. */
  #mismatch(key: ResolvedKey): boolean {
    const usage = this.#metadata.snapshot?.keys.get(key.id);
    return usage !== undefined && usage.check !== key.check;
  }

  #where(operation: string, pluginId: PluginId): Where {
    return { operation, pluginId, location: this.describeLocation(pluginId) };
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
