/** Any value that survives `JSON.stringify` → `JSON.parse` unchanged: the only data a state may hold. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A plugin's id: a UUID (RFC 9562, any version) in canonical lower-case form. */
export type PluginId = string;

/** One plugin's stored state, as a storage returns it. */
export interface PluginState {
  pluginId: PluginId;
  data: JsonValue;
  lastModified: Date;
  /** Schema version of `data`, owned by the plugin; 1 when not given. */
  version?: number;
  /** Storage revision: 1 on the first save of an id, +1 on every successful save. */
  revision?: number;
}

/** Options of one `saveState` call. */
export interface SaveOptions {
  /**
   * Compare-and-set: `0` saves only if nothing is stored, any other value only if it equals the
   * stored revision. A mismatch is a `ConflictError` carrying the stored revision.
   */
  expectedRevision?: number;
  /**
   * Saves only if the stored state's `version` is at most this (a state stored at a newer schema
   * version is never overwritten by an older plugin); otherwise a `VersionIncompatibilityError`.
   * Checked atomically with the write, like `expectedRevision`. Nothing stored passes.
   */
  maxStoredVersion?: number;
  /**
   * Keeps the revision this save replaces in history even when the store keeps none
   * (`history: 0`), until the next save. Migrations use it, so the state before a migration
   * stays recoverable.
   */
  keepReplaced?: boolean;
}

/** One kept revision of a state, as `listRevisions` describes it. */
export interface RevisionInfo {
  revision: number;
  /** The schema version the revision was saved at. */
  version: number;
  lastModified: Date;
  /** Bytes of the revision's data, serialized as JSON (UTF-8). */
  size: number;
  /** True for the revision `loadState` returns now; false for one kept in history. */
  current: boolean;
}

/** Something that happened inside the library that a host may want to log or count. */
export interface StateReport {
  operation: string;
  pluginId?: PluginId;
  code?: string;
  error?: unknown;
  attempt?: number;
  recovered?: boolean;
  message: string;
}

/** Receives every report; it must not throw (a throwing hook is ignored, never fails an operation). */
export type ReportHook = (report: StateReport) => void;
