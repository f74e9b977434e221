import { createPluginStateHandle } from '../layers/access/create-handle.js';
import type { ForPluginOptions } from '../layers/access/for-plugin-options.js';
import type { PluginStateHandle } from '../layers/access/plugin-state-handle.js';
import { scanned } from '../layers/scan/index.js';
import { FileSystemStateStorage } from '../storage/file-system/index.js';
import { MemoryStateStorage } from '../storage/memory.js';
import { runBatch } from './batch.js';
import { ValidationError } from './errors.js';
import type { ManagerOptions } from './manager-options.js';
import { checkPlugin, type Plugin, shownPluginId } from './plugin.js';
import { Reporter } from './report.js';
import type { PluginStateStorage } from './storage.js';
import type { PluginId, PluginState } from './types.js';

/**
 * What `PluginManager` uses beyond the public API: the same operations, named after the
 * `PluginManager` method the host called, so that messages and reports name that method.
 * Not part of the package's public surface.
 */
export interface StateManagerInternals {
  readonly storage: PluginStateStorage;
  readonly reporter: Reporter;
  /** Runs `task`, reporting its failure under `operation` before rethrowing it unchanged. */
  reported<T>(operation: string, pluginId: string | undefined, task: () => Promise<T>): Promise<T>;
  /** Saves one plugin's state without reporting (the caller reports). */
  save(plugin: Plugin, operation: string): Promise<void>;
  /** Loads one plugin's state without reporting (the caller reports). */
  load(plugin: Plugin, operation: string): Promise<void>;
  /** Saves every plugin, reporting each failure; throws one `BatchError` if any failed. */
  saveAll(plugins: readonly Plugin[], operation: string): Promise<void>;
  /** Loads every plugin, reporting each failure; throws one `BatchError` if any failed. */
  loadAll(plugins: readonly Plugin[], operation: string): Promise<void>;
}

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
    this.#storage = withSecretScanning(storage, options);
    this.#reporter = new Reporter(options.onReport);
    this.#internals = {
      storage: this.#storage,
      reporter: this.#reporter,
      reported: (operation, pluginId, task) => this.#reported(operation, pluginId, task),
      save: (plugin, operation) => this.#save(plugin, operation),
      load: (plugin, operation) => this.#load(plugin, operation),
      saveAll: (plugins, operation) => this.#batch(plugins, operation, (p, op) => this.#save(p, op)),
      loadAll: (plugins, operation) => this.#batch(plugins, operation, (p, op) => this.#load(p, op)),
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
   * Stores what `plugin.getState()` returns, stamped with the current time.
   *
   * @example
   * await manager.saveState(plugin);
   */
  saveState(plugin: Plugin): Promise<void> {
    return this.#reported('saveState', shownPluginId(plugin), () => this.#save(plugin, 'saveState'));
  }

  /**
   * Hands the stored state to `plugin.setState(data)`; when nothing is stored the plugin is left
   * untouched (`setState` is not called), so it keeps its own defaults.
   *
   * @example
   * await manager.loadState(plugin);
   */
  loadState(plugin: Plugin): Promise<void> {
    return this.#reported('loadState', shownPluginId(plugin), () => this.#load(plugin, 'loadState'));
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
  saveAllStates(plugins: Plugin[]): Promise<void> {
    return this.#internals.saveAll(plugins, 'saveAllStates');
  }

  /**
   * Loads every plugin (concurrently), with the same `BatchError` semantics as `saveAllStates`.
   *
   * @example
   * await manager.loadAllStates([editor, linter, theme]);
   */
  loadAllStates(plugins: Plugin[]): Promise<void> {
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

  async #save(plugin: Plugin, operation: string): Promise<void> {
    const pluginId = checkPlugin(plugin, operation);
    const data = await plugin.getState();
    await this.#storage.saveState({ pluginId, data, lastModified: new Date() });
  }

  async #load(plugin: Plugin, operation: string): Promise<void> {
    const pluginId = checkPlugin(plugin, operation);
    const state = await this.#storage.loadState(pluginId);
    if (state !== undefined) await plugin.setState(state.data);
  }

  async #batch(
    plugins: readonly Plugin[],
    operation: string,
    each: (plugin: Plugin, operation: string) => Promise<void>,
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

/** Storage built by a factory also reports to the manager's hook (e.g. a corrupt record skipped). */
function storageOptions(options: ManagerOptions): { onReport?: ManagerOptions['onReport'] } {
  return options.onReport ? { onReport: options.onReport } : {};
}
