import { createPluginStateHandle } from '../layers/access/create-handle.js';
import type { ForPluginOptions } from '../layers/access/for-plugin-options.js';
import type { PluginStateHandle } from '../layers/access/plugin-state-handle.js';
import { retrying } from '../layers/retry/index.js';
import { scanned } from '../layers/scan/index.js';
import { FileSystemStateStorage } from '../storage/file-system/index.js';
import { MemoryStateStorage } from '../storage/memory.js';
import { runBatch } from './batch.js';
import { ContractedStates } from './contract/contracted-states.js';
import type { MigrateAllOptions, MigrationOutcome, MigrationPlan } from './contract/migration-report.js';
import { StorageError, ValidationError } from './errors.js';
import type { ManagerOptions } from './manager-options.js';
import type { Plugin } from './plugin.js';
import { shownPluginId } from './plugin.js';
import { Reporter } from './report.js';
import type { PluginStateStorage } from './storage.js';
import type { PluginId, PluginState, RevisionInfo, SaveOptions } from './types.js';

/** Any plugin, whatever the type of its state: the managers check the data at run time. */
export type AnyPlugin = Plugin<unknown>;

/**
 * What `PluginManager` uses beyond the public API: the same operations, named after the
 * `PluginManager` method the host called, so that messages and reports name that method.
 * Not part of the package's public surface.
 */
export interface StateManagerInternals {
  readonly storage: PluginStateStorage;
  readonly reporter: Reporter;
  /** Plugin-level saves and loads through contracts; `PluginManager` sets its reference check. */
  readonly contracted: ContractedStates;
  /** Runs `task`, reporting its failure under `operation` before rethrowing it unchanged. */
  reported<T>(operation: string, pluginId: string | undefined, task: () => Promise<T>): Promise<T>;
  /** Saves one plugin's state without reporting (the caller reports). */
  save(plugin: AnyPlugin, operation: string): Promise<void>;
  /** Loads one plugin's state without reporting (the caller reports). */
  load(plugin: AnyPlugin, operation: string): Promise<void>;
  /** Saves every plugin, reporting each failure; throws one `BatchError` if any failed. */
  saveAll(plugins: readonly AnyPlugin[], operation: string): Promise<void>;
  /** Loads every plugin, reporting each failure; throws one `BatchError` if any failed. */
  loadAll(plugins: readonly AnyPlugin[], operation: string): Promise<void>;
  /** `migrateAll` under the caller's operation name. */
  migrateAll(
    plugins: readonly AnyPlugin[],
    options: MigrateAllOptions | undefined,
    operation: string,
  ): Promise<MigrationOutcome[]>;
  /** The storage's history method, or a `StorageError` saying the storage keeps no history. */
  history<K extends HistoryMethod>(method: K, operation: string): NonNullable<PluginStateStorage[K]>;
}

type HistoryMethod = 'listRevisions' | 'loadRevision' | 'restoreRevision' | 'purgeState';

let internalsOf: (manager: PluginStateManager) => StateManagerInternals;

/**
 * Saves and restores the state of `Plugin` objects through any `PluginStateStorage`.
 *
 * A plugin's own exception (from `getState` or `setState`) is rethrown unchanged by the
 * single-plugin methods and listed in the `BatchError` of the batch methods; every failure is
 * also sent to `onReport`.
 *
 * @example
 * const manager = PluginStateManager.withFileStorage('./plugin-states');
 * await manager.loadState(plugin); // restores what was saved, if anything
 * // ... later
 * await manager.saveState(plugin);
 */
export class PluginStateManager {
  readonly #storage: PluginStateStorage;
  readonly #reporter: Reporter;
  readonly #contracted: ContractedStates;
  readonly #internals: StateManagerInternals;

  static {
    internalsOf = (manager) => manager.#internals;
  }

  constructor(storage: PluginStateStorage, options: ManagerOptions = {}) {
    for (const method of ['saveState', 'loadState', 'deleteState', 'listStates'] as const) {
      if (typeof storage?.[method] !== 'function') {
        throw new ValidationError(
          `PluginStateManager: the storage has no ${method} function. Pass a PluginStateStorage such as new MemoryStateStorage() or new FileSystemStateStorage(dir).`,
          { operation: 'PluginStateManager' },
        );
      }
    }
    this.#storage = withSecretScanning(withRetries(storage, options), options);
    this.#reporter = new Reporter(options.onReport);
    this.#contracted = new ContractedStates(this.#storage, this.#reporter, invalidStatePolicy(options));
    const save = (plugin: AnyPlugin, operation: string) => this.#contracted.save(plugin, operation);
    const load = (plugin: AnyPlugin, operation: string) => this.#contracted.load(plugin, operation);
    this.#internals = {
      storage: this.#storage,
      reporter: this.#reporter,
      contracted: this.#contracted,
      reported: (operation, pluginId, task) => this.#reported(operation, pluginId, task),
      save,
      load,
      saveAll: (plugins, operation) => this.#batch(plugins, operation, save),
      loadAll: (plugins, operation) => this.#batch(plugins, operation, load),
      migrateAll: (plugins, options, operation) => this.#migrateAll(plugins, options, operation),
      history: (method, operation) => this.#history(method, operation),
    };
  }

  /**
   * A manager that keeps states as files in `baseDir` (created when missing).
   *
   * @example
   * const manager = PluginStateManager.withFileStorage(path.join(appDataDir, 'plugin-states'));
   */
  static withFileStorage(baseDir: string, options: ManagerOptions = {}): PluginStateManager {
    return new PluginStateManager(new FileSystemStateStorage(baseDir, storageOptions(options)), options);
  }

  /**
   * A manager that keeps states in memory only: for tests, and hosts that want no persistence.
   *
   * @example
   * const manager = PluginStateManager.withMemoryStorage();
   */
  static withMemoryStorage(options: ManagerOptions = {}): PluginStateManager {
    return new PluginStateManager(new MemoryStateStorage(storageOptions(options)), options);
  }

  /**
   * Stores what `plugin.getState()` returns, stamped with the current time and the version of the
   * plugin's `stateContract` (1 without one), after checking it against the contract's schema and
   * references. A state stored at a newer version is never overwritten: that save is a
   * `VersionIncompatibilityError`, decided atomically by the storage.
   *
   * @example
   * await manager.saveState(plugin);
   */
  saveState(plugin: AnyPlugin): Promise<void> {
    return this.#reported('saveState', shownPluginId(plugin), () =>
      this.#contracted.save(plugin, 'saveState'),
    );
  }

  /**
   * Hands the stored state to `plugin.setState(data)`. A state stored at an older version is
   * migrated first, checked against the schema, and saved (compare-and-set on the revision it was
   * read at, the state before kept in history) before the plugin gets it. With nothing stored the
   * plugin gets its contract's `default`, or is left untouched without one. See
   * `ManagerOptions.onInvalidState` for corrupt, invalid or unmigratable states.
   *
   * @example
   * await manager.loadState(plugin);
   */
  loadState(plugin: AnyPlugin): Promise<void> {
    return this.#reported('loadState', shownPluginId(plugin), () =>
      this.#contracted.load(plugin, 'loadState'),
    );
  }

  /**
   * What `loadState(plugin)` would do with the stored state, without running or writing anything:
   * the versions and the steps, or why it would fail.
   *
   * @example
   * const plan = await manager.planMigration(plugin);
   * if (plan.status === 'migrate') console.log(`will run steps ${plan.steps.join(', ')}`);
   */
  planMigration(plugin: AnyPlugin): Promise<MigrationPlan> {
    return this.#reported('planMigration', shownPluginId(plugin), () =>
      this.#contracted.plan(plugin, 'planMigration'),
    );
  }

  /**
   * Migrates every stored state of `plugins` that is behind its contract, without calling any
   * plugin's `setState`. Never throws for one plugin: each gets a line in the report (migrated,
   * current, nothing stored, or failed with its error, which is also sent to `onReport`).
   * With `{ dryRun: true }` the steps run and are checked, and nothing is saved.
   *
   * @example
   * const report = await manager.migrateAll(plugins, { dryRun: true });
   * for (const line of report) if (line.status === 'failed') console.error(line.pluginId, line.error);
   */
  migrateAll(plugins: AnyPlugin[], options?: MigrateAllOptions): Promise<MigrationOutcome[]> {
    return this.#migrateAll(plugins, options, 'migrateAll');
  }

  /**
   * The revisions kept of a state, newest first: the current one, then its history.
   *
   * @example
   * for (const r of await manager.listRevisions(pluginId)) console.log(r.revision, r.lastModified, r.size);
   */
  listRevisions(pluginId: PluginId): Promise<RevisionInfo[]> {
    return this.#reported('listRevisions', shownPluginId(pluginId), () =>
      this.#history('listRevisions', 'listRevisions')(pluginId),
    );
  }

  /**
   * One kept revision of a state, or `undefined` when it is not kept.
   *
   * @example
   * const before = await manager.loadRevision(pluginId, 3);
   */
  loadRevision(pluginId: PluginId, revision: number): Promise<PluginState | undefined> {
    return this.#reported('loadRevision', shownPluginId(pluginId), () =>
      this.#history('loadRevision', 'loadRevision')(pluginId, revision),
    );
  }

  /**
   * Saves a kept revision again as the newest one (history is never rewritten), also after a
   * delete. Pass `expectedRevision` to refuse it if the state changed meanwhile.
   *
   * @example
   * await manager.restoreRevision(pluginId, 3);
   */
  restoreRevision(pluginId: PluginId, revision: number, options?: SaveOptions): Promise<PluginState> {
    return this.#reported('restoreRevision', shownPluginId(pluginId), () =>
      this.#history('restoreRevision', 'restoreRevision')(pluginId, revision, options),
    );
  }

  /**
   * Removes a state and its whole history: what `deleteState` keeps for undoing is gone too.
   *
   * @example
   * await manager.purgeState(pluginId);
   */
  purgeState(pluginId: PluginId): Promise<void> {
    return this.#reported('purgeState', shownPluginId(pluginId), () =>
      this.#history('purgeState', 'purgeState')(pluginId),
    );
  }

  /**
   * Removes a plugin's stored state; deleting a state that does not exist is not an error.
   *
   * @example
   * await manager.deleteState(plugin.id);
   */
  deleteState(pluginId: PluginId): Promise<void> {
    return this.#reported('deleteState', shownPluginId(pluginId), () => this.#storage.deleteState(pluginId));
  }

  /**
   * Saves every plugin (concurrently). One plugin failing does not stop the others: afterwards a
   * `BatchError` lists each failed plugin id with its error.
   *
   * @example
   * await manager.saveAllStates([editor, linter, theme]);
   */
  saveAllStates(plugins: AnyPlugin[]): Promise<void> {
    return this.#internals.saveAll(plugins, 'saveAllStates');
  }

  /**
   * Loads every plugin (concurrently), with the same `BatchError` semantics as `saveAllStates`.
   *
   * @example
   * await manager.loadAllStates([editor, linter, theme]);
   */
  loadAllStates(plugins: AnyPlugin[]): Promise<void> {
    return this.#internals.loadAll(plugins, 'loadAllStates');
  }

  /**
   * Stores a state record as given, without involving a plugin (for tools, imports, repairs).
   *
   * @example
   * await manager.savePluginState({ pluginId, data: { theme: 'dark' }, lastModified: new Date() });
   */
  savePluginState(state: PluginState): Promise<void> {
    return this.#reported('savePluginState', shownPluginId(state?.pluginId), async () => {
      await this.#storage.saveState(state);
    });
  }

  /**
   * The stored state record of a plugin, or `undefined` when nothing is stored.
   *
   * @example
   * const state = await manager.loadPluginState(pluginId);
   */
  loadPluginState(pluginId: PluginId): Promise<PluginState | undefined> {
    return this.#reported('loadPluginState', shownPluginId(pluginId), () =>
      this.#storage.loadState(pluginId),
    );
  }

  /**
   * Same as `deleteState`: removes a plugin's stored state, if any.
   *
   * @example
   * await manager.deletePluginState(pluginId);
   */
  deletePluginState(pluginId: PluginId): Promise<void> {
    return this.#reported('deletePluginState', shownPluginId(pluginId), () =>
      this.#storage.deleteState(pluginId),
    );
  }

  /**
   * Every stored state record.
   *
   * @example
   * for (const state of await manager.listPluginStates()) console.log(state.pluginId, state.lastModified);
   */
  listPluginStates(): Promise<PluginState[]> {
    return this.#reported('listPluginStates', undefined, () => this.#storage.listStates());
  }

  /**
   * A handle to pass into untrusted plugin code: it gets, sets and deletes `pluginId`'s own state
   * and only reads the states listed in `options.read`; anything else is a `PermissionError`
   * naming both plugins. Nothing on the handle leads back to this manager or its storage. Every
   * decision goes to `onReport` (operation `access.get` / `access.set` / `access.delete`) and to
   * `options.onAudit`. A bad id in `pluginId` or `read` is a `ValidationError`.
   *
   * @example
   * const handle = manager.forPlugin(editorId, { read: [themeId] });
   * await untrustedPlugin.activate(handle);
   * // inside the plugin:
   * const mine = await handle.get();
   * await handle.set({ data: { tabs: 4 } }, { expectedRevision: mine?.revision ?? 0 });
   * const theme = await handle.get(themeId); // read-only access granted by the host
   */
  forPlugin(pluginId: PluginId, options?: ForPluginOptions): PluginStateHandle {
    try {
      return createPluginStateHandle(this.#storage, this.#reporter, pluginId, options);
    } catch (error) {
      this.#reporter.failure('forPlugin', shownPluginId(pluginId), error);
      throw error;
    }
  }

  /**
   * Closes the storage behind this manager (waiting for operations in flight). Idempotent; later
   * calls fail with a `StorageError` saying the store is closed.
   *
   * @example
   * process.on('beforeExit', () => manager.close());
   */
  close(): Promise<void> {
    return this.#reported('close', undefined, async () => {
      await this.#storage.close?.();
    });
  }

  async #reported<T>(operation: string, pluginId: string | undefined, task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (error) {
      this.#reporter.failure(operation, pluginId, error);
      throw error;
    }
  }

  async #migrateAll(
    plugins: readonly AnyPlugin[],
    options: MigrateAllOptions | undefined,
    operation: string,
  ): Promise<MigrationOutcome[]> {
    return this.#reported(operation, undefined, async () => {
      this.#checkArray(plugins, operation);
      const dryRun = options?.dryRun === true;
      return Promise.all(plugins.map((plugin) => this.#contracted.migrateStored(plugin, dryRun, operation)));
    });
  }

  #history<K extends HistoryMethod>(method: K, operation: string): NonNullable<PluginStateStorage[K]> {
    const storage = this.#storage;
    const found = storage[method];
    if (typeof found !== 'function') {
      throw new StorageError(
        `${operation}: this manager's storage keeps no history (it has no ${method}). Use a built-in storage, or one that implements the history methods.`,
        { operation },
      );
    }
    return found.bind(storage) as NonNullable<PluginStateStorage[K]>;
  }

  #checkArray(plugins: unknown, operation: string): void {
    if (!Array.isArray(plugins)) {
      throw new ValidationError(`${operation}: expected an array of plugins, got ${typeof plugins}.`, {
        operation,
      });
    }
  }

  async #batch(
    plugins: readonly AnyPlugin[],
    operation: string,
    each: (plugin: AnyPlugin, operation: string) => Promise<void>,
  ): Promise<void> {
    if (!Array.isArray(plugins)) {
      const error = new ValidationError(
        `${operation}: expected an array of plugins, got ${typeof plugins}.`,
        {
          operation,
        },
      );
      this.#reporter.failure(operation, undefined, error);
      throw error;
    }
    const tasks = plugins.map((plugin) => ({
      pluginId: shownPluginId(plugin),
      run: () => each(plugin, operation),
    }));
    await runBatch(operation, tasks, this.#reporter);
  }
}

/** Gives `PluginManager` the operations of the manager it wraps, under its own operation names. */
export function stateManagerInternals(manager: PluginStateManager): StateManagerInternals {
  return internalsOf(manager);
}

/** Transient failures are tried again unless the host turns it off; retries go to `onReport`. */
function withRetries(storage: PluginStateStorage, options: ManagerOptions): PluginStateStorage {
  if (options.retry === false) return storage;
  if (options.retry !== undefined && (options.retry === null || typeof options.retry !== 'object')) {
    throw new ValidationError('PluginStateManager: retry must be a RetryPolicy object or false.', {
      operation: 'PluginStateManager',
    });
  }
  const policy = options.retry ?? {};
  const onReport = policy.onReport ?? options.onReport;
  return retrying(storage, { ...policy, ...(onReport ? { onReport } : {}) });
}

/**
 * Every save a manager makes is scanned for secrets unless the host turns it off: plugins should
 * not keep credentials in plain state, and by default the host hears of it (path and kind only).
 */
function withSecretScanning(storage: PluginStateStorage, options: ManagerOptions): PluginStateStorage {
  const policy = options.secretScanning ?? 'warn';
  if (!['off', 'warn', 'refuse'].includes(policy)) {
    throw new ValidationError(
      `PluginStateManager: secretScanning must be 'off', 'warn' or 'refuse', got ${JSON.stringify(policy)}.`,
      { operation: 'PluginStateManager' },
    );
  }
  if (policy === 'off') return storage;
  return scanned(storage, { policy, ...(options.onReport ? { onReport: options.onReport } : {}) });
}

function invalidStatePolicy(options: ManagerOptions): 'throw' | 'default' {
  const policy = options.onInvalidState ?? 'throw';
  if (policy !== 'throw' && policy !== 'default') {
    throw new ValidationError(
      `PluginStateManager: onInvalidState must be 'throw' or 'default', got ${JSON.stringify(policy)}.`,
      { operation: 'PluginStateManager' },
    );
  }
  return policy;
}

/** Storage built by a factory also reports to the manager's hook (e.g. a corrupt record skipped). */
function storageOptions(options: ManagerOptions): { onReport?: ManagerOptions['onReport'] } {
  return options.onReport ? { onReport: options.onReport } : {};
}
