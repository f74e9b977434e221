import {
  ConflictError,
  PluginStateError,
  StorageError,
  ValidationError,
  VersionIncompatibilityError,
} from './errors.js';
import { normalizePluginId } from './ids.js';
import { exceedsBytes, findJsonIssues } from './json.js';
import { KeyedQueue } from './keyed-queue.js';
import { resolveLimits, type StateLimits } from './limits.js';
import type { PluginStateStorage, StorageOptions } from './storage.js';
import type {
  JsonValue,
  PluginId,
  PluginState,
  ReportHook,
  RevisionInfo,
  SaveOptions,
  StateReport,
} from './types.js';

/** A state that passed every check, ready for a backend to store. */
export interface ValidRecord {
  pluginId: PluginId;
  version: number;
  lastModified: Date;
  data: JsonValue;
  /** `data` serialized once by the guard; backends store these bytes rather than serializing again. */
  dataJson: string;
}

/** What a backend checks and does atomically with one write. */
export interface WriteConditions {
  /** Compare-and-set on the stored revision (0: nothing may be stored); undefined: any. */
  expectedRevision: number | undefined;
  /** Refuse (with {@link GuardedStorage.versionTooNew}) when the stored version is above this. */
  maxStoredVersion: number | undefined;
  /**
   * How many replaced revisions of this id history holds after the write: the replaced revision
   * is kept when this is >= 1, and older ones beyond it are dropped. 0 keeps none.
   */
  keepRevisions: number;
  /** The save asked to keep the replaced revision (`SaveOptions.keepReplaced`); layers pass it on. */
  keepReplaced: boolean;
}

/** The default number of replaced revisions each durable backend keeps per state. */
export const DEFAULT_HISTORY = 10;
/** The most revisions per state a store may be configured to keep. */
export const MAX_HISTORY = 10_000;

/**
 * The one guard every backend stands behind (the idea of kysely's RuntimeDriver): it checks ids,
 * data and limits before any I/O, opens the store once, applies operations on one id in call order,
 * refuses work after `close()`, and turns unexpected failures into `StorageError`s. A backend
 * extends it and implements the five `*Record(s)` methods, so it cannot forget a rule.
 */
export abstract class GuardedStorage implements PluginStateStorage {
  protected readonly limits: StateLimits;
  /** Replaced revisions kept per state (`StorageOptions.history`). */
  protected readonly historyLimit: number;
  private readonly reportHook: ReportHook | undefined;
  private readonly queue = new KeyedQueue();
  /** Every public operation still running, so that `close()` can wait for all of them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private opening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: StorageOptions = {}) {
    this.limits = resolveLimits(options.limits);
    this.historyLimit = resolveHistory(options.history);
    this.reportHook = options.onReport;
  }

  /** Where the store keeps its data, for messages: a folder, a file, a table. */
  protected abstract describeLocation(pluginId?: PluginId): string;
  protected abstract openStore(): Promise<void>;
  /**
   * Stores the record if `conditions` hold, keeping the replaced revision in history as they say,
   * all in one atomic step; returns the new revision. The new revision is one more than the
   * highest revision stored or kept in history for this id (1 when there is none).
   */
  protected abstract writeRecord(record: ValidRecord, conditions: WriteConditions): Promise<number>;
  /** Returns a fresh copy the caller may mutate, or undefined when nothing is stored. */
  protected abstract readRecord(pluginId: PluginId): Promise<PluginState | undefined>;
  /**
   * Removes the current record; with `keepRevisions` >= 1 its last revision moves into history
   * (atomically), so that the delete can be undone and revision numbers keep counting up.
   */
  protected abstract removeRecord(pluginId: PluginId, keepRevisions: number): Promise<void>;
  /** The current revision (if any) and those in history, newest first. */
  protected abstract listRecordRevisions(pluginId: PluginId): Promise<RevisionInfo[]>;
  /** A fresh copy of one kept revision (current or in history), or undefined. */
  protected abstract readRecordRevision(
    pluginId: PluginId,
    revision: number,
  ): Promise<PluginState | undefined>;
  /** Removes the current record and the whole history of the id. */
  protected abstract purgeRecord(pluginId: PluginId): Promise<void>;
  /** Returns fresh copies of every readable record. */
  protected abstract readAllRecords(): Promise<PluginState[]>;
  protected abstract closeStore(): Promise<void>;

  open(): Promise<void> {
    if (this.closing) return Promise.reject(this.closedError('open'));
    this.opening ??= this.openStore().catch((error: unknown) => {
      this.opening = undefined; // a later call may retry, e.g. once a missing mount is back
      throw this.wrap(error, 'open');
    });
    return this.opening;
  }

  saveState(state: PluginState, options?: SaveOptions): Promise<PluginState> {
    return this.track('saveState', () => this.save(state, options));
  }

  loadState(pluginId: PluginId): Promise<PluginState | undefined> {
    return this.track('loadState', async () => {
      const id = normalizePluginId(pluginId, 'loadState');
      await this.ready('loadState');
      return this.queue.run(id, () => this.guarded('loadState', id, () => this.readRecord(id)));
    });
  }

  deleteState(pluginId: PluginId): Promise<void> {
    return this.track('deleteState', async () => {
      const id = normalizePluginId(pluginId, 'deleteState');
      await this.ready('deleteState');
      return this.queue.run(id, () =>
        this.guarded('deleteState', id, () => this.removeRecord(id, this.historyLimit)),
      );
    });
  }

  listRevisions(pluginId: PluginId): Promise<RevisionInfo[]> {
    return this.track('listRevisions', async () => {
      const id = normalizePluginId(pluginId, 'listRevisions');
      await this.ready('listRevisions');
      return this.queue.run(id, () => this.guarded('listRevisions', id, () => this.listRecordRevisions(id)));
    });
  }

  loadRevision(pluginId: PluginId, revision: number): Promise<PluginState | undefined> {
    return this.track('loadRevision', async () => {
      const id = normalizePluginId(pluginId, 'loadRevision');
      checkRevision(revision, id, 'loadRevision');
      await this.ready('loadRevision');
      return this.queue.run(id, () =>
        this.guarded('loadRevision', id, () => this.readRecordRevision(id, revision)),
      );
    });
  }

  restoreRevision(pluginId: PluginId, revision: number, options?: SaveOptions): Promise<PluginState> {
    return this.track('restoreRevision', async () => {
      const id = normalizePluginId(pluginId, 'restoreRevision');
      checkRevision(revision, id, 'restoreRevision');
      const conditions = this.conditionsOf(id, options, 'restoreRevision');
      await this.ready('restoreRevision');
      // Read and write in one turn of the id's queue, so no save of this instance slips between.
      return this.queue.run(id, () =>
        this.guarded('restoreRevision', id, async () => {
          const kept = await this.readRecordRevision(id, revision);
          if (!kept) {
            const revisions = await this.listRecordRevisions(id);
            const list = revisions.map((r) => r.revision).join(', ') || 'none';
            throw new ValidationError(
              `restoreRevision: plugin ${id} has no revision ${revision} in ${this.describeLocation(id)} (kept: ${list}). ` +
                'Pick a revision from listRevisions().',
              {
                pluginId: id,
                operation: 'restoreRevision',
                issues: [{ path: 'revision', message: 'not kept' }],
              },
            );
          }
          const record = this.validate({ ...kept, lastModified: new Date() }, 'restoreRevision');
          return this.commit(record, conditions);
        }),
      );
    });
  }

  purgeState(pluginId: PluginId): Promise<void> {
    return this.track('purgeState', async () => {
      const id = normalizePluginId(pluginId, 'purgeState');
      await this.ready('purgeState');
      return this.queue.run(id, () => this.guarded('purgeState', id, () => this.purgeRecord(id)));
    });
  }

  listStates(): Promise<PluginState[]> {
    return this.track('listStates', async () => {
      await this.ready('listStates');
      return this.guarded('listStates', undefined, () => this.readAllRecords());
    });
  }

  /** Waits for the operations in flight, then releases the store. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.inFlight.size > 0) await Promise.allSettled(this.inFlight);
      await this.queue.idle();
      if (this.opening) {
        const opened = await this.opening.then(
          () => true,
          () => false,
        );
        if (opened) await this.closeStore();
      }
    })();
    return this.closing;
  }

  private async save(state: PluginState, options?: SaveOptions): Promise<PluginState> {
    const record = this.validate(state, 'saveState');
    const conditions = this.conditionsOf(record.pluginId, options, 'saveState');
    await this.ready('saveState');
    return this.queue.run(record.pluginId, () =>
      this.guarded('saveState', record.pluginId, () => this.commit(record, conditions)),
    );
  }

  /** Checks a save's options and turns them into what the backend must check and keep. */
  private conditionsOf(
    pluginId: PluginId,
    options: SaveOptions | undefined,
    operation: string,
  ): WriteConditions {
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new ValidationError(`${operation}: the options of plugin ${pluginId} must be an object.`, {
        pluginId,
        operation,
      });
    }
    const { expectedRevision, maxStoredVersion, keepReplaced } = options ?? {};
    if (expectedRevision !== undefined && (!Number.isSafeInteger(expectedRevision) || expectedRevision < 0)) {
      throw new ValidationError(
        `${operation}: expectedRevision of plugin ${pluginId} must be a whole number >= 0, got ${String(expectedRevision)}.`,
        { pluginId, operation },
      );
    }
    if (maxStoredVersion !== undefined && (!Number.isSafeInteger(maxStoredVersion) || maxStoredVersion < 1)) {
      throw new ValidationError(
        `${operation}: maxStoredVersion of plugin ${pluginId} must be a whole number >= 1, got ${String(maxStoredVersion)}.`,
        { pluginId, operation },
      );
    }
    const keepRevisions = keepReplaced === true ? Math.max(this.historyLimit, 1) : this.historyLimit;
    return { expectedRevision, maxStoredVersion, keepRevisions, keepReplaced: keepReplaced === true };
  }

  /** Writes a checked record (inside the id's queue) and returns the record as stored. */
  private async commit(record: ValidRecord, conditions: WriteConditions): Promise<PluginState> {
    const revision = await this.writeRecord(record, conditions);
    const stored: PluginState = {
      pluginId: record.pluginId,
      data: null,
      lastModified: new Date(record.lastModified.getTime()),
      version: record.version,
      revision,
    };
    return withDataCopy(stored, record.dataJson);
  }

  /** Sends a report to the `onReport` hook; a throwing hook never fails the operation. */
  protected report(report: StateReport): void {
    if (!this.reportHook) return;
    try {
      this.reportHook(report);
    } catch {
      // A host's logging bug must not turn a successful save into a failure.
    }
  }

  /** Reports each record a list skipped because it could not be read (it stays where it is). */
  protected reportSkipped(skipped: ReadonlyArray<{ pluginId: PluginId; error: Error }>): void {
    for (const { pluginId, error } of skipped) {
      this.report({
        operation: 'listStates',
        pluginId,
        code: (error as { code?: string }).code,
        error,
        recovered: true,
        message: `listStates skipped plugin ${pluginId}: ${error.message}`,
      });
    }
  }

  /** The `ConflictError` every backend throws when `expectedRevision` does not match. */
  protected conflict(pluginId: PluginId, expectedRevision: number, storedRevision: number): ConflictError {
    const stored = storedRevision === 0 ? 'nothing is stored' : `revision ${storedRevision} is stored`;
    return new ConflictError(
      `saveState: plugin ${pluginId} was saved with expectedRevision ${expectedRevision}, but ${stored} in ${this.describeLocation(pluginId)}. ` +
        'Load the state again, apply your change to it, and save with its revision.',
      {
        pluginId,
        operation: 'saveState',
        location: this.describeLocation(pluginId),
        storedRevision,
        expectedRevision,
      },
    );
  }

  /**
   * The `VersionIncompatibilityError` every backend throws when a save's `maxStoredVersion` is
   * below the stored version: a state saved by a newer plugin is never overwritten by an older one.
   */
  protected versionTooNew(
    pluginId: PluginId,
    storedVersion: number,
    maxStoredVersion: number,
  ): VersionIncompatibilityError {
    return new VersionIncompatibilityError(
      `saveState: plugin ${pluginId} has a state of version ${storedVersion} in ${this.describeLocation(pluginId)}, ` +
        `newer than the version ${maxStoredVersion} this save supports; nothing was written. ` +
        'Upgrade the plugin to one that knows this version, or restore an older revision on purpose.',
      {
        pluginId,
        operation: 'saveState',
        location: this.describeLocation(pluginId),
        storedVersion,
        supportedVersion: maxStoredVersion,
      },
    );
  }

  private validate(state: PluginState, operation: string): ValidRecord {
    if (state === null || typeof state !== 'object') {
      throw new ValidationError(
        `${operation}: expected a state object { pluginId, data, lastModified }, got ${state}.`,
        {
          operation,
        },
      );
    }
    const pluginId = normalizePluginId(state.pluginId, operation);
    const fail = (message: string, issues = [{ path: 'state', message }]) =>
      new ValidationError(`${operation}: the state of plugin ${pluginId} was refused: ${message}`, {
        pluginId,
        operation,
        issues,
      });
    const version = state.version ?? 1;
    if (!Number.isSafeInteger(version) || version < 1) {
      throw fail(`version must be a whole number >= 1, got ${String(state.version)}.`);
    }
    let lastModified = state.lastModified ?? new Date();
    if (!(lastModified instanceof Date) || Number.isNaN(lastModified.getTime())) {
      throw fail('lastModified must be a valid Date.');
    }
    lastModified = new Date(lastModified.getTime());
    const issues = findJsonIssues(state.data, this.limits.maxDepth);
    if (issues.length > 0) {
      const listed = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
      throw fail(`data is not plain JSON (${listed}). Nothing was stored.`, issues);
    }
    const dataJson = JSON.stringify(state.data);
    const bytes = exceedsBytes(dataJson, this.limits.maxBytes);
    if (bytes !== undefined) {
      throw fail(
        `data is ${bytes} bytes serialized, over the limit of ${this.limits.maxBytes}. Nothing was stored.`,
        [{ path: 'data', message: `${bytes} bytes, over the limit of ${this.limits.maxBytes}` }],
      );
    }
    return { pluginId, version, lastModified, data: state.data, dataJson };
  }

  private track<T>(name: string, operation: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(this.closedError(name));
    const promise = operation();
    this.inFlight.add(promise);
    const forget = () => this.inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  private async ready(operation: string): Promise<void> {
    if (this.closing) throw this.closedError(operation);
    await this.open();
  }

  private async guarded<T>(
    operation: string,
    pluginId: PluginId | undefined,
    task: () => Promise<T>,
  ): Promise<T> {
    try {
      return await task();
    } catch (error) {
      throw this.wrap(error, operation, pluginId);
    }
  }

  private wrap(error: unknown, operation: string, pluginId?: PluginId): PluginStateError {
    if (error instanceof PluginStateError) return error;
    const subject = pluginId ? ` of plugin ${pluginId}` : '';
    const reason = error instanceof Error ? error.message : String(error);
    return new StorageError(
      `${operation}${subject} failed in ${this.describeLocation(pluginId)}: ${reason}`,
      {
        pluginId,
        operation,
        location: this.describeLocation(pluginId),
        cause: error,
      },
    );
  }

  private closedError(operation: string): StorageError {
    return new StorageError(
      `${operation}: the store at ${this.describeLocation()} is closed. Open a new storage instance to keep working.`,
      { operation, location: this.describeLocation() },
    );
  }
}

function resolveHistory(history: number | undefined): number {
  const resolved = history ?? DEFAULT_HISTORY;
  if (!Number.isSafeInteger(resolved) || resolved < 0 || resolved > MAX_HISTORY) {
    throw new ValidationError(
      `history must be a whole number of revisions from 0 to ${MAX_HISTORY}, got ${String(history)}.`,
      { operation: 'configure' },
    );
  }
  return resolved;
}

function checkRevision(revision: number, pluginId: PluginId, operation: string): void {
  if (!Number.isSafeInteger(revision) || revision < 1) {
    throw new ValidationError(
      `${operation}: the revision of plugin ${pluginId} must be a whole number >= 1, got ${String(revision)}.`,
      { pluginId, operation, issues: [{ path: 'revision', message: 'not a whole number >= 1' }] },
    );
  }
}

/** Up to this size the copy of saved data is made at once; larger ones are parsed on first access. */
const EAGER_COPY_CHARS = 64 * 1024;

/**
 * Gives the record of a save its own copy of the data, with JSON's exact semantics (-0 is 0), as
 * `loadState` would return it. A large copy is parsed only when `data` is first read: most callers
 * never read the result of a save, and parsing 1 MiB again would double the cost of the save.
 */
function withDataCopy(state: PluginState, dataJson: string): PluginState {
  if (dataJson.length <= EAGER_COPY_CHARS) {
    state.data = JSON.parse(dataJson) as JsonValue;
    return state;
  }
  const settle = (value: JsonValue): JsonValue => {
    Object.defineProperty(state, 'data', { value, writable: true, enumerable: true, configurable: true });
    return value;
  };
  Object.defineProperty(state, 'data', {
    enumerable: true,
    configurable: true,
    get: () => settle(JSON.parse(dataJson) as JsonValue),
    set: settle,
  });
  return state;
}
