import { ConflictError, PluginStateError, StorageError, ValidationError } from './errors.js';
import { normalizePluginId } from './ids.js';
import { exceedsBytes, findJsonIssues } from './json.js';
import { KeyedQueue } from './keyed-queue.js';
import { resolveLimits, type StateLimits } from './limits.js';
import type { PluginStateStorage, StorageOptions } from './storage.js';
import type { JsonValue, PluginId, PluginState, ReportHook, SaveOptions, StateReport } from './types.js';

/** A state that passed every check, ready for a backend to store. */
export interface ValidRecord {
  pluginId: PluginId;
  version: number;
  lastModified: Date;
  data: JsonValue;
  /** `data` serialized once by the guard; backends store these bytes rather than serializing again. */
  dataJson: string;
}

/**
 * The one guard every backend stands behind (the idea of kysely's RuntimeDriver): it checks ids,
 * data and limits before any I/O, opens the store once, applies operations on one id in call order,
 * refuses work after `close()`, and turns unexpected failures into `StorageError`s. A backend
 * extends it and implements the five `*Record(s)` methods, so it cannot forget a rule.
 */
export abstract class GuardedStorage implements PluginStateStorage {
  protected readonly limits: StateLimits;
  private readonly reportHook: ReportHook | undefined;
  private readonly queue = new KeyedQueue();
  /** Every public operation still running, so that `close()` can wait for all of them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private opening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: StorageOptions = {}) {
    this.limits = resolveLimits(options.limits);
    this.reportHook = options.onReport;
  }

  /** Where the store keeps its data, for messages: a folder, a file, a table. */
  protected abstract describeLocation(pluginId?: PluginId): string;
  protected abstract openStore(): Promise<void>;
  /** Stores the record with compare-and-set; returns the new revision. */
  protected abstract writeRecord(record: ValidRecord, expectedRevision: number | undefined): Promise<number>;
  /** Returns a fresh copy the caller may mutate, or undefined when nothing is stored. */
  protected abstract readRecord(pluginId: PluginId): Promise<PluginState | undefined>;
  protected abstract removeRecord(pluginId: PluginId): Promise<void>;
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
      return this.queue.run(id, () => this.guarded('deleteState', id, () => this.removeRecord(id)));
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
    const expected = options?.expectedRevision;
    if (expected !== undefined && (!Number.isSafeInteger(expected) || expected < 0)) {
      throw new ValidationError(
        `saveState: expectedRevision of plugin ${record.pluginId} must be a whole number >= 0, got ${String(expected)}.`,
        { pluginId: record.pluginId, operation: 'saveState' },
      );
    }
    await this.ready('saveState');
    const revision = await this.queue.run(record.pluginId, () =>
      this.guarded('saveState', record.pluginId, () => this.writeRecord(record, expected)),
    );
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
