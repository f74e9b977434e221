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
