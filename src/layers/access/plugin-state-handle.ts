import type { JsonValue, PluginId, SaveOptions } from '../../core/types.js';

/**
 * One plugin's stored state as a {@link PluginStateHandle} returns it: a fresh copy on every call,
 * which the plugin may change freely without touching what is stored.
 */
export interface StateSnapshot {
  /** The plugin the state belongs to, in canonical lower-case form. */
  pluginId: PluginId;
  data: JsonValue;
  /** The plugin's schema version of `data`; 1 when it never set one. */
  version: number;
  /** The storage revision; pass it back as `expectedRevision` to save only if nobody saved since. */
  revision: number;
  /** When the state was saved. */
  lastModified: Date;
}

/**
 * What a plugin passes to {@link PluginStateHandle.set}. A {@link StateSnapshot} fits, so a state
 * can be read, changed and written back. `revision` and `lastModified` of the argument are ignored:
 * the storage counts revisions and the save is stamped with the current time.
 */
export interface StateUpdate {
  data: JsonValue;
  /** The plugin's schema version of `data`; 1 when left out. */
  version?: number;
  /**
   * May be left out. When given it must be the handle's own plugin (any case): another plugin's id
   * is a `PermissionError`, never a redirected write.
   */
  pluginId?: PluginId;
}

/**
 * The only view of plugin state that a host hands to untrusted plugin code, made by
 * `manager.forPlugin(pluginId, { read })`. It reads, writes and deletes its own plugin's state and
 * reads (only reads) the states of the plugins listed in `read`; every other request is a
 * `PermissionError` naming both plugins and the operation. Every call, allowed or denied, is audited.
 *
 * The handle is a frozen object without a prototype whose only properties are these three frozen
 * arrow functions: no property, prototype, `constructor` or `this` leads back to the manager or the
 * storage, and errors reaching the plugin are copies without their `cause`.
 *
 * @example
 * const handle = manager.forPlugin(editorId, { read: [themeId] });
 * const mine = await handle.get();                 // StateSnapshot | undefined
 * await handle.set({ data: { tabs: 4 } }, { expectedRevision: mine?.revision ?? 0 });
 * const theme = await handle.get(themeId);          // allowed: listed in `read`
 * await handle.set({ pluginId: themeId, data: {} }); // PermissionError: writes only its own state
 */
export interface PluginStateHandle {
  /**
   * The handle's own state when called without an id (or with its own id, any case); with another
   * plugin's id, that plugin's state if it is listed in `read`, else a `PermissionError`.
   * `undefined` when nothing is stored.
   */
  readonly get: (pluginId?: PluginId) => Promise<StateSnapshot | undefined>;
  /**
   * Stores `state.data` as the handle's own state and resolves with what was stored.
   * `options.expectedRevision` makes it a compare-and-set (`0`: only if nothing is stored), a
   * mismatch being a `ConflictError`. The storage's other save options (`maxStoredVersion`,
   * `keepReplaced`) are the host's and are not taken from a plugin.
   */
  readonly set: (
    state: StateUpdate,
    options?: Pick<SaveOptions, 'expectedRevision'>,
  ) => Promise<StateSnapshot>;
  /**
   * Deletes the handle's own state (deleting a missing state is not an error). Another plugin's
   * id is a `PermissionError`, even when that plugin is listed in `read`. A storage with history
   * keeps the deleted revision there, for the host to restore; the handle offers no history.
   */
  readonly delete: (pluginId?: PluginId) => Promise<void>;
}
