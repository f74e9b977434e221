import { GuardedStorage, type ValidRecord, type WriteConditions } from '../core/guarded-storage.js';
import { cloneJson } from '../core/json.js';
import type { StorageOptions } from '../core/storage.js';
import type { JsonValue, PluginId, PluginState, RevisionInfo } from '../core/types.js';

interface MemoryRecord {
  data: JsonValue;
  /** Bytes of the data's JSON, for `listRevisions`. */
  size: number;
  version: number;
  revision: number;
  lastModified: number;
}

/** One id's records: the current one (if any) and the replaced ones kept, oldest first. */
interface MemoryEntry {
  current: MemoryRecord | undefined;
  history: MemoryRecord[];
}

/**
 * Keeps states in this process's memory: for tests, and hosts that want no persistence. What a
 * caller saved or received is never aliased by what is stored. It keeps history like the durable
 * backends (`history` replaced revisions per state, default 10), in memory too.
 *
 * @example
 * const storage = new MemoryStateStorage();
 * await storage.saveState({ pluginId, data: { theme: 'dark' }, lastModified: new Date() });
 */
export class MemoryStateStorage extends GuardedStorage {
  private readonly entries = new Map<PluginId, MemoryEntry>();

  constructor(options: StorageOptions = {}) {
    super(options);
  }

  protected describeLocation(pluginId?: PluginId): string {
    return pluginId ? `memory storage (key ${pluginId})` : 'memory storage';
  }

  protected async openStore(): Promise<void> {}

  protected async writeRecord(record: ValidRecord, conditions: WriteConditions): Promise<number> {
    const entry = this.entries.get(record.pluginId);
    const current = entry?.current;
    const stored = current?.revision ?? 0;
    if (conditions.expectedRevision !== undefined && conditions.expectedRevision !== stored) {
      throw this.conflict(record.pluginId, conditions.expectedRevision, stored);
    }
    if (
      current &&
      conditions.maxStoredVersion !== undefined &&
      current.version > conditions.maxStoredVersion
    ) {
      throw this.versionTooNew(record.pluginId, current.version, conditions.maxStoredVersion);
    }
    const revision = Math.max(stored, entry?.history.at(-1)?.revision ?? 0) + 1;
    const history = entry?.history ?? [];
    if (current) history.push(current);
    trim(history, conditions.keepRevisions);
    // Parsing the guard's serialization both copies the value and gives it JSON's exact semantics
    // (-0 reads back as 0), the same as every persistent backend.
    const next: MemoryRecord = {
      data: JSON.parse(record.dataJson) as JsonValue,
      size: Buffer.byteLength(record.dataJson),
      version: record.version,
      revision,
      lastModified: record.lastModified.getTime(),
    };
    this.entries.set(record.pluginId, { current: next, history });
    return revision;
  }

  protected async readRecord(pluginId: PluginId): Promise<PluginState | undefined> {
    const current = this.entries.get(pluginId)?.current;
    return current && toState(pluginId, current);
  }

  protected async removeRecord(pluginId: PluginId, keepRevisions: number): Promise<void> {
    const entry = this.entries.get(pluginId);
    if (!entry?.current) return;
    entry.history.push(entry.current);
    entry.current = undefined;
    trim(entry.history, keepRevisions);
    if (entry.history.length === 0) this.entries.delete(pluginId);
  }

  protected async listRecordRevisions(pluginId: PluginId): Promise<RevisionInfo[]> {
    const entry = this.entries.get(pluginId);
    if (!entry) return [];
    const kept = entry.history.map((record) => toInfo(record, false));
    if (entry.current) kept.push(toInfo(entry.current, true));
    return kept.reverse();
  }

  protected async readRecordRevision(pluginId: PluginId, revision: number): Promise<PluginState | undefined> {
    const entry = this.entries.get(pluginId);
    const found =
      entry?.current?.revision === revision
        ? entry.current
        : entry?.history.find((record) => record.revision === revision);
    return found && toState(pluginId, found);
  }

  protected async purgeRecord(pluginId: PluginId): Promise<void> {
    this.entries.delete(pluginId);
  }

  protected async readAllRecords(): Promise<PluginState[]> {
    const states: PluginState[] = [];
    for (const [pluginId, { current }] of this.entries) if (current) states.push(toState(pluginId, current));
    return states;
  }

  protected async closeStore(): Promise<void> {
    this.entries.clear();
  }
}

/** Drops the oldest kept revisions until at most `keep` remain. */
function trim(history: MemoryRecord[], keep: number): void {
  if (history.length > keep) history.splice(0, history.length - keep);
}

function toInfo(record: MemoryRecord, current: boolean): RevisionInfo {
  return {
    revision: record.revision,
    version: record.version,
    lastModified: new Date(record.lastModified),
    size: record.size,
    current,
  };
}

function toState(pluginId: PluginId, record: MemoryRecord): PluginState {
  return {
    pluginId,
    data: cloneJson(record.data),
    lastModified: new Date(record.lastModified),
    version: record.version,
    revision: record.revision,
  };
}
