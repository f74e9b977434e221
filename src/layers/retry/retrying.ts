import pRetry from 'p-retry';
import { PluginStateError, ValidationError } from '../../core/errors.js';
import { Reporter } from '../../core/report.js';
import type { PluginStateStorage } from '../../core/storage.js';
import type {
  PluginId,
  PluginState,
  ReportHook,
  RevisionInfo,
  SaveOptions,
  StateReport,
} from '../../core/types.js';
import { isTransientError } from './transient.js';

/**
 * When and how often `retrying()` tries a failed operation again. Delays grow exponentially from
 * `minDelayMs` by `factor` up to `maxDelayMs`, each multiplied by a random 1–2 (jitter) so that
 * many clients failing together do not retry together.
 */
export interface RetryPolicy {
  /** Attempts in all, the first one included (default 4; 1 turns retrying off). */
  attempts?: number;
  /** Delay before the first retry, in ms (default 20). */
  minDelayMs?: number;
  /** Longest delay between two attempts, in ms (default 1,000). */
  maxDelayMs?: number;
  /** How much each delay grows over the one before (default 2). */
  factor?: number;
  /** Multiplies each delay by a random 1–2 (default true). */
  jitter?: boolean;
  /** The longest one call may take, retries and delays included, in ms (default 10,000). */
  deadlineMs?: number;
  /** Aborting it stops retrying: the call rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Which failures are worth another attempt (default: `isTransientError`). */
  isTransient?: (error: unknown) => boolean;
  /** Hears each retry, each recovery and each give-up after retries. */
  onReport?: ReportHook;
}

const DEFAULTS = {
  attempts: 4,
  minDelayMs: 20,
  maxDelayMs: 1_000,
  factor: 2,
  jitter: true,
  deadlineMs: 10_000,
};

type Resolved = typeof DEFAULTS &
  Pick<RetryPolicy, 'signal' | 'onReport'> & { isTransient: (error: unknown) => boolean };

/**
 * Wraps a storage so that transient failures (a busy file or database, a dropped connection, a
 * PostgreSQL serialization failure) are tried again with exponential backoff and jitter, within a
 * deadline. Validation errors, conflicts, permissions, corrupt data and failed fsyncs are never
 * retried: they reject at once, unchanged. The managers use it by default (`ManagerOptions.retry`).
 *
 * A write whose outcome is unknown (the connection dropped after the server may have committed) is
 * tried again too: a plain save then stores the same data once more, and a compare-and-set save may
 * answer `ConflictError` for a change that did land — load the state to see.
 *
 * @example
 * const storage = retrying(new SqliteStateStorage('./states.db'), {
 *   attempts: 5,
 *   deadlineMs: 5_000,
 *   onReport: (report) => log.warn(report.message),
 * });
 */
export function retrying(storage: PluginStateStorage, policy: RetryPolicy = {}): PluginStateStorage {
  return new RetryingStorage(storage, resolvePolicy(policy));
}

class RetryingStorage implements PluginStateStorage {
  readonly listRevisions?: (pluginId: PluginId) => Promise<RevisionInfo[]>;
  readonly loadRevision?: (pluginId: PluginId, revision: number) => Promise<PluginState | undefined>;
  readonly restoreRevision?: (
    pluginId: PluginId,
    revision: number,
    options?: SaveOptions,
  ) => Promise<PluginState>;
  readonly purgeState?: (pluginId: PluginId) => Promise<void>;
  private readonly reporter: Reporter;

  constructor(
    private readonly inner: PluginStateStorage,
    private readonly policy: Resolved,
  ) {
    this.reporter = new Reporter(policy.onReport);
    // The history methods exist exactly when the wrapped storage has them.
    if (inner.listRevisions)
      this.listRevisions = (id) => this.run('listRevisions', id, () => inner.listRevisions!(id));
    if (inner.loadRevision)
      this.loadRevision = (id, revision) =>
        this.run('loadRevision', id, () => inner.loadRevision!(id, revision));
    if (inner.restoreRevision) {
      this.restoreRevision = (id, revision, options) =>
        this.run('restoreRevision', id, () => inner.restoreRevision!(id, revision, options));
    }
    if (inner.purgeState) this.purgeState = (id) => this.run('purgeState', id, () => inner.purgeState!(id));
  }

  saveState(state: PluginState, options?: SaveOptions): Promise<PluginState> {
    return this.run('saveState', state?.pluginId, () => this.inner.saveState(state, options));
  }

  loadState(pluginId: PluginId): Promise<PluginState | undefined> {
    return this.run('loadState', pluginId, () => this.inner.loadState(pluginId));
  }

  deleteState(pluginId: PluginId): Promise<void> {
    return this.run('deleteState', pluginId, () => this.inner.deleteState(pluginId));
  }

  listStates(): Promise<PluginState[]> {
    return this.run('listStates', undefined, () => this.inner.listStates());
  }

  open(): Promise<void> {
    return this.run('open', undefined, async () => {
      await this.inner.open?.();
    });
  }

  /** Not retried: closing twice is idempotent anyway, and a failed close needs a person. */
  async close(): Promise<void> {
    await this.inner.close?.();
  }

  private async run<T>(operation: string, pluginId: unknown, task: () => Promise<T>): Promise<T> {
    const { policy } = this;
    const id = typeof pluginId === 'string' ? pluginId.toLowerCase() : undefined;
    const subject = id ? ` of plugin ${id}` : '';
    let failures = 0;
    let lastError: unknown;
    try {
      // p-retry needs Error objects; a storage that throws something else gets it back unchanged.
      const guarded = async () => {
        try {
          return await task();
        } catch (error) {
          throw error instanceof Error ? error : new NonErrorThrow(error);
        }
      };
      const result = await pRetry(guarded, {
        retries: policy.attempts - 1,
        factor: policy.factor,
        minTimeout: policy.minDelayMs,
        maxTimeout: policy.maxDelayMs,
        randomize: policy.jitter,
        maxRetryTime: policy.deadlineMs,
        ...(policy.signal ? { signal: policy.signal } : {}),
        onFailedAttempt: ({ error }) => {
          failures++;
          lastError = error;
        },
        shouldRetry: ({ error, attemptNumber }) => {
          if (!policy.isTransient(unwrap(error))) return false;
          this.report({
            operation,
            pluginId: id,
            error,
            attempt: attemptNumber,
            recovered: false,
            message: `${operation}${subject} failed on attempt ${attemptNumber} of ${policy.attempts} (${describe(error)}); trying again`,
          });
          return true;
        },
      });
      if (failures > 0) {
        this.report({
          operation,
          pluginId: id,
          attempt: failures + 1,
          recovered: true,
          message: `${operation}${subject} succeeded on attempt ${failures + 1} after ${failures} transient failure${failures > 1 ? 's' : ''}`,
        });
      }
      return result;
    } catch (error) {
      const thrown = unwrap(error);
      if (failures > 1 || (failures === 1 && policy.isTransient(unwrap(lastError)))) {
        this.report({
          operation,
          pluginId: id,
          error: thrown,
          attempt: failures,
          recovered: false,
          message: `${operation}${subject} gave up after ${failures} attempt${failures > 1 ? 's' : ''}: ${describe(thrown)}`,
        });
      }
      throw thrown;
    }
  }

  /** Adds the error's code and drops an unknown plugin id; the shared Reporter shields the hook. */
  private report(
    report: Omit<StateReport, 'pluginId' | 'code'> & { pluginId: string | undefined; error?: unknown },
  ): void {
    const { pluginId, error, ...rest } = report;
    this.reporter.send({
      ...rest,
      ...(pluginId ? { pluginId } : {}),
      ...(error === undefined ? {} : { error }),
      ...(error instanceof PluginStateError ? { code: error.code } : {}),
    });
  }
}

/** Carries a thrown value that is not an Error through p-retry, which accepts only Errors. */
class NonErrorThrow extends Error {
  constructor(readonly value: unknown) {
    super(String(value));
  }
}

function unwrap(error: unknown): unknown {
  return error instanceof NonErrorThrow ? error.value : error;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function resolvePolicy(policy: RetryPolicy): Resolved {
  if (policy === null || typeof policy !== 'object') {
    throw new ValidationError('retrying: the policy must be an object.', { operation: 'retrying' });
  }
  const resolved = {
    ...DEFAULTS,
    ...stripUndefined(policy),
    isTransient: policy.isTransient ?? isTransientError,
  };
  const wholeAtLeast = (name: keyof typeof DEFAULTS, min: number) => {
    const value = resolved[name];
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value < min ||
      (name === 'attempts' && !Number.isInteger(value))
    ) {
      throw new ValidationError(`retrying: ${name} must be a number >= ${min}, got ${String(value)}.`, {
        operation: 'retrying',
      });
    }
  };
  wholeAtLeast('attempts', 1);
  wholeAtLeast('minDelayMs', 0);
  wholeAtLeast('maxDelayMs', 0);
  wholeAtLeast('factor', 1);
  wholeAtLeast('deadlineMs', 0);
  if (typeof resolved.isTransient !== 'function') {
    throw new ValidationError('retrying: isTransient must be a function.', { operation: 'retrying' });
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
