import type { StateLimits } from './limits.js';
import type { PluginId, PluginState, ReportHook, RevisionInfo, SaveOptions } from './types.js';

/**
 * What every backend implements. Ids are UUIDs (any case in, lower-case out); a missing state is
 * `undefined`; every other failure rejects with a `PluginStateError`. See DESIGN.md's
 * "Semantics every backend shares", which the conformance suite (`plugin-state/testing`) checks.
 */
export interface PluginStateStorage {
  /** Stores a state; resolves with the record as stored (revision and lastModified filled in). */
  saveState(state: PluginState, options?: SaveOptions): Promise<PluginState>;
  loadState(pluginId: PluginId): Promise<PluginState | undefined>;
  /** Deleting a missing state is not an error. */
  deleteState(pluginId: PluginId): Promise<void>;
  listStates(): Promise<PluginState[]>;
  /**
   * The revisions kept of a state, newest first: the current one (if the state exists) and those
   * in history. Empty when nothing was ever stored, or after `purgeState`. Every built-in backend
   * has the four history methods; a storage without them keeps no history.
   */
  listRevisions?(pluginId: PluginId): Promise<RevisionInfo[]>;
  /** One kept revision (current or from history), or `undefined` when it is not kept. */
  loadRevision?(pluginId: PluginId, revision: number): Promise<PluginState | undefined>;
  /**
   * Saves a kept revision's data and version again, as a new revision: history is never
   * rewritten. A revision that is not kept is a `ValidationError`.
   */
  restoreRevision?(pluginId: PluginId, revision: number, options?: SaveOptions): Promise<PluginState>;
  /** Removes the state and its whole history; the next save starts again at revision 1. */
  purgeState?(pluginId: PluginId): Promise<void>;
  /** Opens the store now instead of on the first operation. */
  open?(): Promise<void>;
  /** Idempotent; every later operation is a `StorageError` saying the store is closed. */
  close?(): Promise<void>;
}

/** Options every built-in backend accepts. */
export interface StorageOptions {
  /** Limits on the data of one state; defaults: depth 128, 10 MiB. */
  limits?: Partial<StateLimits>;
  /** Hears about events that are not failures of the call at hand, such as a corrupt record skipped by `listStates`. */
  onReport?: ReportHook;
  /**
   * How many replaced revisions of each state to keep (default 10; 0 keeps none). They are kept
   * atomically with the save that replaces them, and a deleted state's last revision is kept
   * until `purgeState`, so a delete can be undone with `restoreRevision`.
   */
  history?: number;
}
