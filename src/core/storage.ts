import type { StateLimits } from './limits.js';
import type { PluginId, PluginState, ReportHook, SaveOptions } from './types.js';

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
}
