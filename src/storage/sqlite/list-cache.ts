import { cloneJson } from '../../core/json.js';
import type { JsonValue, PluginId, PluginState } from '../../core/types.js';
import { bytesOf, checkId, checkMeta, type RowMeta, type StoredRow } from './rows.js';

/** What the cache remembers of one row. */
type Entry =
  | {
      kind: 'cached';
      meta: RowMeta;
      bytes: Buffer;
      /**
       * Parsed on first use when the entry comes from this store's own save: those bytes are the
       * guard's own serialization, so a plain `JSON.parse` is safe. Rows read back from the database
       * are parsed (with the safe parser) when they enter the cache.
       */
      data: JsonValue | undefined;
    }
  | { kind: 'large' } // over the size limits: read again when needed
  | { kind: 'corrupt'; error: Error };

export interface ListCacheLimits {
  /** Rows whose data is larger are not kept in memory. */
  maxEntryBytes: number;
  /** Total data bytes kept in memory over all rows. */
  maxTotalBytes: number;
}

export interface ListResult {
  states: PluginState[];
  corrupt: Array<{ pluginId: string; error: Error }>;
}

/** Reads rows for the cache; runs inside one synchronous task on the connection. */
export interface RowSource {
  all(): StoredRow[];
  one(pluginId: PluginId): StoredRow | undefined;
  /** Parses a row's data column without trusting it (throws a RowError). */
  parse(bytes: Buffer): JsonValue;
  /** The error that stands for a corrupt row in reports. */
  fail(pluginId: string, error: unknown): Error;
}

/**
 * Keeps the parsed states of the table so that lists and loads parse only what changed.
 *
 * The stamp `data_version:total_changes` names the database contents the cache holds:
 * `PRAGMA data_version` changes whenever another connection (another process) commits, and
 * `total_changes()` whenever this connection writes — also when the host writes through a
 * connection it lent the store. While the stamp is unchanged a list reads no rows at all. When it
 * changed, the list reads every row again but parses only those whose data bytes differ from what
 * the cache holds: comparing bytes, not revisions, also catches a row deleted and saved again at
 * the same revision, or rewritten by a foreign tool. This store's own writes update the cache (and
 * its stamp, when it was current) inside their transaction, so they cost the next list nothing.
 */
export class ListCache {
  private entries = new Map<PluginId, Entry>();
  private stamp: string | undefined;
  private total = 0;

  constructor(private readonly limits: ListCacheLimits) {}

  /** True when the cache holds exactly the table as of `stamp`. */
  isCurrent(stamp: string): boolean {
    return this.stamp === stamp;
  }

  /**
   * For a current cache: a fresh copy of the state, `null` when none is stored, or `undefined`
   * when the row must be read (too large to keep, or corrupt).
   */
  lookup(pluginId: PluginId): PluginState | null | undefined {
    const entry = this.entries.get(pluginId);
    if (!entry) return null;
    return entry.kind === 'cached' ? toState(pluginId, entry.meta, cloneJson(dataOf(entry))) : undefined;
  }

  /** A fresh copy of the cached data of `pluginId`, if the cache holds exactly these bytes. */
  copyOf(pluginId: PluginId, bytes: Buffer): JsonValue | undefined {
    const entry = this.entries.get(pluginId);
    return entry?.kind === 'cached' && entry.bytes.equals(bytes) ? cloneJson(dataOf(entry)) : undefined;
  }

  list(stamp: string, source: RowSource): ListResult {
    const fresh = this.isCurrent(stamp) ? undefined : this.rebuild(stamp, source);
    const result: ListResult = { states: [], corrupt: [] };
    for (const [pluginId, entry] of this.entries) {
      if (entry.kind === 'cached') {
        result.states.push(toState(pluginId, entry.meta, cloneJson(dataOf(entry))));
      } else if (entry.kind === 'corrupt') {
        result.corrupt.push({ pluginId, error: entry.error });
      } else {
        const state = fresh?.get(pluginId) ?? readLarge(pluginId, source, result);
        if (state) result.states.push(state);
      }
    }
    return result;
  }

  /**
   * Records a save this connection committed. `before` is the stamp read inside its transaction,
   * `after` the stamp once it committed: when the cache was current before, it still is after.
   */
  recordSave(before: string, after: string, pluginId: PluginId, meta: RowMeta, dataJson: string): void {
    this.forget(pluginId);
    // A string longer than the limit is longer still in UTF-8: no need to encode it to know.
    const bytes = dataJson.length <= this.limits.maxEntryBytes ? Buffer.from(dataJson, 'utf8') : undefined;
    if (
      bytes &&
      bytes.length <= this.limits.maxEntryBytes &&
      this.total + bytes.length <= this.limits.maxTotalBytes
    ) {
      this.entries.set(pluginId, { kind: 'cached', meta, bytes, data: undefined });
      this.total += bytes.length;
    } else {
      this.entries.set(pluginId, { kind: 'large' });
    }
    this.stamp = this.stamp === before ? after : undefined;
  }

  /** Records a delete this connection committed (see {@link recordSave}). */
  recordDelete(before: string, after: string, pluginId: PluginId): void {
    this.forget(pluginId);
    this.stamp = this.stamp === before ? after : undefined;
  }

  clear(): void {
    this.entries = new Map();
    this.stamp = undefined;
    this.total = 0;
  }

  private forget(pluginId: PluginId): void {
    const previous = this.entries.get(pluginId);
    if (previous?.kind === 'cached') this.total -= previous.bytes.length;
    this.entries.delete(pluginId);
  }

  /** Reads every row, reusing parsed data whose bytes did not change; returns the large rows' states. */
  private rebuild(stamp: string, source: RowSource): Map<PluginId, PluginState> {
    // Forget the stamp first: should reading fail half-way, the next call starts over.
    this.stamp = undefined;
    const next = new Map<PluginId, Entry>();
    const large = new Map<PluginId, PluginState>();
    let total = 0;
    for (const row of source.all()) {
      const key = String(row[0]);
      try {
        const pluginId = checkId(row[0]);
        const meta = checkMeta(row);
        const bytes = bytesOf(row);
        const previous = this.entries.get(pluginId);
        const same = previous?.kind === 'cached' && previous.bytes.equals(bytes) ? previous : undefined;
        if (bytes.length <= this.limits.maxEntryBytes && total + bytes.length <= this.limits.maxTotalBytes) {
          next.set(pluginId, { kind: 'cached', meta, bytes, data: same ? same.data : source.parse(bytes) });
          total += bytes.length;
        } else {
          next.set(pluginId, { kind: 'large' });
          large.set(pluginId, toState(pluginId, meta, same ? cloneJson(dataOf(same)) : source.parse(bytes)));
        }
      } catch (error) {
        next.set(key, { kind: 'corrupt', error: source.fail(key, error) });
      }
    }
    this.entries = next;
    this.total = total;
    this.stamp = stamp;
    return large;
  }
}

/** Lists without a cache: every row is read and parsed. */
export function listWithoutCache(source: RowSource): ListResult {
  const result: ListResult = { states: [], corrupt: [] };
  for (const row of source.all()) {
    const state = decode(row, source, result);
    if (state) result.states.push(state);
  }
  return result;
}

export function toState(pluginId: PluginId, meta: RowMeta, data: JsonValue): PluginState {
  return {
    pluginId,
    data,
    lastModified: new Date(meta.lastModified),
    version: meta.version,
    revision: meta.revision,
  };
}

function dataOf(entry: Extract<Entry, { kind: 'cached' }>): JsonValue {
  entry.data ??= JSON.parse(entry.bytes.toString('utf8')) as JsonValue;
  return entry.data;
}

function readLarge(pluginId: PluginId, source: RowSource, result: ListResult): PluginState | undefined {
  const row = source.one(pluginId);
  return row && decode(row, source, result);
}

function decode(row: StoredRow, source: RowSource, result: ListResult): PluginState | undefined {
  const key = String(row[0]);
  try {
    const pluginId = checkId(row[0]);
    return toState(pluginId, checkMeta(row), source.parse(bytesOf(row)));
  } catch (error) {
    result.corrupt.push({ pluginId: key, error: source.fail(key, error) });
    return undefined;
  }
}
