import { createPluginStateHandle } from '../layers/access/create-handle.js';
import type { ForPluginOptions } from '../layers/access/for-plugin-options.js';
import type { PluginStateHandle } from '../layers/access/plugin-state-handle.js';
import { describeError, PluginStateError, StorageError, ValidationError } from './errors.js';
import { normalizePluginId } from './ids.js';
import type { ManagerOptions } from './manager-options.js';
import { checkPlugin, type Plugin, shownPluginId } from './plugin.js';
import { PluginStateManager, type StateManagerInternals, stateManagerInternals } from './state-manager.js';
import type { PluginStateStorage } from './storage.js';
import type { PluginId, PluginState } from './types.js';

/**
 * A registry of a host's plugins and their state lifecycle: register plugins, restore their
 * states at start-up, save them on demand, and save everything once more at `shutdown()`.
 * State work is done by a `PluginStateManager`, so both managers behave the same way.
 *
 * @example
 * const manager = PluginManager.withFileStorage('./plugin-states');
 * manager.registerPlugin(editor);
 * manager.registerPlugin(theme);
 * await manager.loadAllPluginStates();
 * // ... on exit
 * await manager.shutdown();
 */
export class PluginManager {
  readonly #states: StateManagerInternals;
  readonly #plugins = new Map<PluginId, Plugin>();
  /** Set as soon as shutdown starts, so no call can slip in while the last saves run. */
  #stopped = false;
  #shutdown: Promise<void> | undefined;

  private constructor(stateManager: PluginStateManager) {
    this.#states = stateManagerInternals(stateManager);
  }

  /**
   * A manager whose plugin states are files in `baseDir` (created when missing).
   *
   * @example
   * const manager = PluginManager.withFileStorage(path.join(appDataDir, 'plugin-states'));
   */
  static withFileStorage(baseDir: string, options?: ManagerOptions): PluginManager {
    return new PluginManager(PluginStateManager.withFileStorage(baseDir, options));
  }

  /**
   * A manager over any storage; `shutdown()` closes it.
   *
   * @example
   * const manager = PluginManager.withStateStorage(new MemoryStateStorage());
   */
  static withStateStorage(storage: PluginStateStorage, options?: ManagerOptions): PluginManager {
    return new PluginManager(new PluginStateManager(storage, options));
  }

  /**
   * Adds a plugin. Its id must be a UUID (any case) not registered yet, and it must have
   * `getState` and `setState` functions; otherwise a `ValidationError` is thrown.
   *
   * @example
   * manager.registerPlugin({ id: pluginIdFromName('com.acme.theme'), getState: () => theme, setState: (d) => { theme = d; } });
   */
  registerPlugin(plugin: Plugin): void {
    this.#sync('registerPlugin', shownPluginId(plugin), () => {
      const pluginId = checkPlugin(plugin, 'registerPlugin');
      if (this.#plugins.has(pluginId)) {
        throw new ValidationError(
          `registerPlugin: plugin ${pluginId} is already registered. Call unregisterPlugin("${pluginId}") first, or give each plugin its own id.`,
          { pluginId, operation: 'registerPlugin', issues: [{ path: 'plugin.id', message: 'duplicate id' }] },
        );
      }
      this.#plugins.set(pluginId, plugin);
    });
  }

  /**
   * Removes a plugin from the registry; its stored state is kept. Unregistering an id that is not
   * registered is not an error.
   *
   * @example
   * manager.unregisterPlugin(theme.id);
   */
  unregisterPlugin(id: PluginId): void {
    this.#sync('unregisterPlugin', shownPluginId(id), () => {
      this.#plugins.delete(normalizePluginId(id, 'unregisterPlugin'));
    });
  }

  /**
   * The registered plugin with this id (any case), or `undefined`.
   *
   * @example
   * const theme = manager.getPlugin(themeId);
   */
  getPlugin(id: PluginId): Plugin | undefined {
    return this.#sync('getPlugin', shownPluginId(id), () =>
      this.#plugins.get(normalizePluginId(id, 'getPlugin')),
    );
  }

  /**
   * Every registered plugin, in registration order.
   *
   * @example
   * for (const plugin of manager.listPlugins()) console.log(plugin.id, plugin.name);
   */
  listPlugins(): Plugin[] {
    return this.#sync('listPlugins', undefined, () => [...this.#plugins.values()]);
  }

  /**
   * The stored state record of a plugin (registered or not), or `undefined` when none is stored.
   *
   * @example
   * const state = await manager.getPluginState(themeId);
   */
  getPluginState(id: PluginId): Promise<PluginState | undefined> {
    return this.#run('getPluginState', shownPluginId(id), () => this.#states.storage.loadState(id));
  }

  /**
   * Stores a state record as given, without involving the plugin object.
   *
   * @example
   * await manager.setPluginState({ pluginId: themeId, data: { theme: 'dark' }, lastModified: new Date() });
   */
  setPluginState(state: PluginState): Promise<void> {
    return this.#run('setPluginState', shownPluginId(state?.pluginId), async () => {
      await this.#states.storage.saveState(state);
    });
  }

  /**
   * Removes a plugin's stored state, if any; the plugin stays registered.
   *
   * @example
   * await manager.deletePluginState(themeId);
   */
  deletePluginState(id: PluginId): Promise<void> {
    return this.#run('deletePluginState', shownPluginId(id), () => this.#states.storage.deleteState(id));
  }

  /**
   * Every stored state record, registered plugin or not.
   *
   * @example
   * const states = await manager.listPluginStates();
   */
  listPluginStates(): Promise<PluginState[]> {
    return this.#run('listPluginStates', undefined, () => this.#states.storage.listStates());
  }

  /**
   * A handle to pass into untrusted plugin code, for a plugin registered or not; the same as
   * `PluginStateManager.forPlugin`. After `shutdown()` it is a `StorageError`, and handles made
   * before fail on their next call because the storage is closed.
   *
   * @example
   * const handle = manager.forPlugin(editor.id, { read: [theme.id] });
   * await editor.activate(handle); // the plugin reaches its state only through the handle
   */
  forPlugin(pluginId: PluginId, options?: ForPluginOptions): PluginStateHandle {
    return this.#sync('forPlugin', shownPluginId(pluginId), () =>
      createPluginStateHandle(this.#states.storage, this.#states.reporter, pluginId, options),
    );
  }

  /**
   * Restores one registered plugin's stored state (leaves it untouched when nothing is stored).
   *
   * @example
   * await manager.loadPluginState(themeId);
   */
  loadPluginState(id: PluginId): Promise<void> {
    return this.#run('loadPluginState', shownPluginId(id), () =>
      this.#states.load(this.#registered(id, 'loadPluginState'), 'loadPluginState'),
    );
  }

  /**
   * Saves one registered plugin's current state.
   *
   * @example
   * await manager.savePluginState(themeId);
   */
  savePluginState(id: PluginId): Promise<void> {
    return this.#run('savePluginState', shownPluginId(id), () =>
      this.#states.save(this.#registered(id, 'savePluginState'), 'savePluginState'),
    );
  }

  /**
   * Restores every registered plugin; one failing does not stop the others, and afterwards a
   * `BatchError` lists each failure.
   *
   * @example
   * await manager.loadAllPluginStates();
   */
  async loadAllPluginStates(): Promise<void> {
    this.#sync('loadAllPluginStates', undefined, () => undefined); // refuses, and reports, once shut down
    await this.#states.loadAll([...this.#plugins.values()], 'loadAllPluginStates');
  }

  /**
   * Saves every registered plugin, with the same `BatchError` semantics as `loadAllPluginStates`.
   *
   * @example
   * await manager.saveAllPluginStates();
   */
  async saveAllPluginStates(): Promise<void> {
    this.#sync('saveAllPluginStates', undefined, () => undefined); // refuses, and reports, once shut down
    await this.#states.saveAll([...this.#plugins.values()], 'saveAllPluginStates');
  }

  /**
   * Saves every registered plugin's state, then closes the storage, even when some saves failed
   * (they are thrown afterwards as one `BatchError`). Calling it again returns the same outcome
   * without saving again; every other call afterwards is a `StorageError`.
   *
   * @example
   * process.once('SIGTERM', () => manager.shutdown().finally(() => process.exit()));
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#closeDown();
    return this.#shutdown;
  }

  async #closeDown(): Promise<void> {
    this.#stopped = true;
    let saveError: unknown;
    try {
      await this.#states.saveAll([...this.#plugins.values()], 'shutdown');
    } catch (error) {
      saveError = error;
    }
    try {
      await this.#states.storage.close?.();
    } catch (error) {
      const saved =
        saveError === undefined ? 'Every plugin state was saved before' : 'Some saves failed before';
      const closeError =
        error instanceof PluginStateError
          ? error
          : new StorageError(
              `shutdown: closing the storage failed: ${describeError(error)}. ${saved}; ` +
                'check the storage (disk, connection) before starting again.',
              { operation: 'shutdown', cause: error },
            );
      this.#states.reporter.failure('shutdown', undefined, closeError);
      // The plugins' failures matter more to the host; a close failure beside them is reported only.
      if (saveError === undefined) throw closeError;
    }
    if (saveError !== undefined) throw saveError;
  }

  #ensureRunning(operation: string): void {
    if (!this.#stopped) return;
    throw new StorageError(
      `${operation}: this PluginManager has been shut down and its storage is closed. ` +
        'Create a new PluginManager (e.g. PluginManager.withFileStorage(dir)) to keep working.',
      { operation },
    );
  }

  /** The registered plugin with this id, or a `ValidationError` saying to register it first. */
  #registered(id: PluginId, operation: string): Plugin {
    const pluginId = normalizePluginId(id, operation);
    const plugin = this.#plugins.get(pluginId);
    if (plugin) return plugin;
    throw new ValidationError(
      `${operation}: plugin ${pluginId} is not registered with this PluginManager. Call registerPlugin(plugin) first.`,
      { pluginId, operation, issues: [{ path: 'pluginId', message: 'not registered' }] },
    );
  }

  /** Runs an async operation once the manager is known to be running, reporting any failure. */
  #run<T>(operation: string, pluginId: string | undefined, task: () => Promise<T>): Promise<T> {
    return this.#states.reported(operation, pluginId, async () => {
      this.#ensureRunning(operation);
      return task();
    });
  }

  #sync<T>(operation: string, pluginId: string | undefined, task: () => T): T {
    try {
      this.#ensureRunning(operation);
      return task();
    } catch (error) {
      this.#states.reporter.failure(operation, pluginId, error);
      throw error;
    }
  }
}
