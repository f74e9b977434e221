import { createPluginStateHandle } from '../layers/access/create-handle.js';
import type { ForPluginOptions } from '../layers/access/for-plugin-options.js';
import type { PluginStateHandle } from '../layers/access/plugin-state-handle.js';
import type { MigrateAllOptions, MigrationOutcome, MigrationPlan } from './contract/migration-report.js';
import { BatchError, describeError, PluginStateError, StorageError, ValidationError } from './errors.js';
import { normalizePluginId } from './ids.js';
import type { ManagerOptions } from './manager-options.js';
import { checkPlugin, shownPluginId } from './plugin.js';
import {
  type AnyPlugin,
  PluginStateManager,
  type StateManagerInternals,
  stateManagerInternals,
} from './state-manager.js';
import type { PluginStateStorage } from './storage.js';
import { type StorageHealth, StorageHealthMonitor } from './storage-health.js';
import type { PluginId, PluginState, RevisionInfo, SaveOptions } from './types.js';

/** Any valid id: the probe of an unreachable storage loads it, and whether it exists does not matter. */
const PROBE_ID = '00000000-0000-4000-8000-000000000000';
const DEFAULT_PROBE_INTERVAL_MS = 2_000;

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
  readonly #plugins = new Map<PluginId, AnyPlugin>();
  readonly #health: StorageHealthMonitor;
  /** Set as soon as shutdown starts, so no call can slip in while the last saves run. */
  #stopped = false;
  #shutdown: Promise<void> | undefined;

  private constructor(stateManager: PluginStateManager, options: ManagerOptions = {}) {
    this.#states = stateManagerInternals(stateManager);
    // A state may point only at plugins this manager knows.
    this.#states.contracted.referenceCheck = async (ids) => ids.filter((id) => !this.#plugins.has(id));
    const storage = this.#states.storage;
    this.#health = new StorageHealthMonitor(
      this.#states.reporter,
      async () => {
        await storage.open?.();
        await storage.loadState(PROBE_ID);
      },
      (pluginIds) => this.#replay(pluginIds),
      probeInterval(options),
    );
  }

  /**
   * A manager whose plugin states are files in `baseDir` (created when missing).
   *
   * @example
   * const manager = PluginManager.withFileStorage(path.join(appDataDir, 'plugin-states'));
   */
  static withFileStorage(baseDir: string, options?: ManagerOptions): PluginManager {
    return new PluginManager(PluginStateManager.withFileStorage(baseDir, options), options);
  }

  /**
   * A manager over any storage; `shutdown()` closes it.
   *
   * @example
   * const manager = PluginManager.withStateStorage(new MemoryStateStorage());
   */
  static withStateStorage(storage: PluginStateStorage, options?: ManagerOptions): PluginManager {
    return new PluginManager(new PluginStateManager(storage, options), options);
  }

  /**
   * Adds a plugin. Its id must be a UUID (any case) not registered yet, and it must have
   * `getState` and `setState` functions; otherwise a `ValidationError` is thrown.
   *
   * @example
   * manager.registerPlugin({ id: pluginIdFromName('com.acme.theme'), getState: () => theme, setState: (d) => { theme = d; } });
   */
  registerPlugin(plugin: AnyPlugin): void {
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
  getPlugin(id: PluginId): AnyPlugin | undefined {
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
  listPlugins(): AnyPlugin[] {
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
    return this.#run(
      'savePluginState',
      shownPluginId(id),
      () => this.#states.save(this.#registered(id, 'savePluginState'), 'savePluginState'),
      true,
    );
  }

  /**
   * What loading a registered plugin would do with its stored state, without writing anything.
   *
   * @example
   * const plan = await manager.planMigration(themeId);
   */
  planMigration(id: PluginId): Promise<MigrationPlan> {
    return this.#run('planMigration', shownPluginId(id), () =>
      this.#states.contracted.plan(this.#registered(id, 'planMigration'), 'planMigration'),
    );
  }

  /**
   * Migrates the stored state of every registered plugin that is behind its contract, without
   * calling `setState`; one line per plugin in the report, failures included (never thrown).
   *
   * @example
   * const report = await manager.migrateAll({ dryRun: true });
   */
  migrateAll(options?: MigrateAllOptions): Promise<MigrationOutcome[]> {
    return this.#run('migrateAll', undefined, () =>
      this.#states.migrateAll([...this.#plugins.values()], options, 'migrateAll'),
    );
  }

  /**
   * The revisions kept of a state (registered plugin or not), newest first.
   *
   * @example
   * const revisions = await manager.listRevisions(themeId);
   */
  listRevisions(id: PluginId): Promise<RevisionInfo[]> {
    return this.#run('listRevisions', shownPluginId(id), () =>
      this.#states.history('listRevisions', 'listRevisions')(id),
    );
  }

  /**
   * One kept revision of a state, or `undefined`.
   *
   * @example
   * const old = await manager.loadRevision(themeId, 2);
   */
  loadRevision(id: PluginId, revision: number): Promise<PluginState | undefined> {
    return this.#run('loadRevision', shownPluginId(id), () =>
      this.#states.history('loadRevision', 'loadRevision')(id, revision),
    );
  }

  /**
   * Saves a kept revision again as the newest one; the plugin object is not touched (call
   * `loadPluginState(id)` to hand it the restored state).
   *
   * @example
   * await manager.restoreRevision(themeId, 2);
   * await manager.loadPluginState(themeId);
   */
  restoreRevision(id: PluginId, revision: number, options?: SaveOptions): Promise<PluginState> {
    return this.#run('restoreRevision', shownPluginId(id), () =>
      this.#states.history('restoreRevision', 'restoreRevision')(id, revision, options),
    );
  }

  /**
   * Removes a state and its whole history.
   *
   * @example
   * await manager.purgeState(themeId);
   */
  purgeState(id: PluginId): Promise<void> {
    return this.#run('purgeState', shownPluginId(id), () =>
      this.#states.history('purgeState', 'purgeState')(id),
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
    const plugins = [...this.#plugins.values()];
    await this.#batch('loadAllPluginStates', plugins, false, () =>
      this.#states.loadAll(plugins, 'loadAllPluginStates'),
    );
  }

  /**
   * Saves every registered plugin, with the same `BatchError` semantics as `loadAllPluginStates`.
   *
   * @example
   * await manager.saveAllPluginStates();
   */
  async saveAllPluginStates(): Promise<void> {
    this.#sync('saveAllPluginStates', undefined, () => undefined); // refuses, and reports, once shut down
    const plugins = [...this.#plugins.values()];
    await this.#batch('saveAllPluginStates', plugins, true, () =>
      this.#states.saveAll(plugins, 'saveAllPluginStates'),
    );
  }

  /**
   * Whether the storage answers: `'degraded'` from a failure of the storage itself (unreachable,
   * disk full, I/O) until an operation or a probe succeeds. While degraded the plugins keep running
   * on their last known state and saves fail loudly (each caller gets the `StorageError`; nothing is
   * acknowledged that is not stored). The storage is probed every `storageProbeIntervalMs`; once it
   * answers, the plugins whose saves failed meanwhile are saved again with their current state.
   * Both transitions are reported to `onReport` (operations `degraded` and `recovered`).
   *
   * @example
   * if (manager.health().status === 'degraded') statusBar.warn('Settings cannot be saved right now');
   */
  health(): StorageHealth {
    return this.#health.snapshot();
  }

  /**
   * Probes the storage now instead of waiting for the next probe; resolves with the health after it
   * (and after the pending saves, when it recovered).
   *
   * @example
   * await manager.checkStorage(); // e.g. when the network comes back
   */
  checkStorage(): Promise<StorageHealth> {
    return this.#health.check();
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
    this.#health.stop();
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
  #registered(id: PluginId, operation: string): AnyPlugin {
    const pluginId = normalizePluginId(id, operation);
    const plugin = this.#plugins.get(pluginId);
    if (plugin) return plugin;
    throw new ValidationError(
      `${operation}: plugin ${pluginId} is not registered with this PluginManager. Call registerPlugin(plugin) first.`,
      { pluginId, operation, issues: [{ path: 'pluginId', message: 'not registered' }] },
    );
  }

  /**
   * Runs an async operation once the manager is known to be running, reporting any failure and
   * telling the health monitor whether the storage answered.
   */
  #run<T>(operation: string, pluginId: string | undefined, task: () => Promise<T>, save = false): Promise<T> {
    return this.#states.reported(operation, pluginId, async () => {
      this.#ensureRunning(operation);
      const observed = { operation, save, ...(pluginId ? { pluginId } : {}) };
      try {
        const result = await task();
        this.#health.observe(observed);
        return result;
      } catch (error) {
        this.#health.observe({ ...observed, error });
        throw error;
      }
    });
  }

  /** Runs a call over many plugins, telling the health monitor each plugin's outcome. */
  async #batch(
    operation: string,
    plugins: AnyPlugin[],
    save: boolean,
    run: () => Promise<void>,
  ): Promise<void> {
    let failures: ReadonlyArray<{ pluginId: PluginId; error: unknown }> = [];
    try {
      await run();
    } catch (error) {
      if (!(error instanceof BatchError)) throw error;
      failures = error.failures;
      throw error;
    } finally {
      const failed = new Set(failures.map((failure) => failure.pluginId));
      for (const failure of failures) this.#health.observe({ ...failure, operation, save });
      for (const plugin of plugins) {
        const pluginId = shownPluginId(plugin);
        if (!failed.has(pluginId)) this.#health.observe({ operation, pluginId, save });
      }
    }
  }

  /** Saves again the plugins whose saves failed during an outage (still registered ones). */
  async #replay(pluginIds: PluginId[]): Promise<void> {
    if (this.#stopped) return;
    const plugins = pluginIds.flatMap((id) => this.#plugins.get(id) ?? []);
    await this.#batch('recover', plugins, true, () => this.#states.saveAll(plugins, 'recover'));
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

function probeInterval(options: ManagerOptions): number {
  const interval = options.storageProbeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
  if (!Number.isFinite(interval) || interval < 10) {
    throw new ValidationError(
      `PluginManager: storageProbeIntervalMs must be a number of ms >= 10, got ${String(options.storageProbeIntervalMs)}.`,
      { operation: 'PluginManager' },
    );
  }
  return interval;
}
