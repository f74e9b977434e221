import { GuardedStorage, type ValidRecord } from '../core/guarded-storage.js';
import { cloneJson } from '../core/json.js';
import type { StorageOptions } from '../core/storage.js';
import type { JsonValue, PluginId, PluginState } from '../core/types.js';

interface MemoryRecord {
  data: JsonValue;
  version: number;
  revision: number;
  lastModified: number;
}

/**
 * Keeps states in this process's memory: for tests, and hosts that want no persistence. What a
 * caller saved or received is never aliased by what is stored.
 *
 * @example
 * const storage = new MemoryStateStorage();
 * await storage.saveState({ pluginId, data: { theme: 'dark' }, lastModified: new Date() });
 */
export class MemoryStateStorage extends GuardedStorage {
  private readonly records = new Map<PluginId, MemoryRecord>();

  constructor(options: StorageOptions = {}) {
    super(options);
  }

  protected describeLocation(pluginId?: PluginId): string {
    return pluginId ? `memory storage (key ${pluginId})` : 'memory storage';
  }

  protected async openStore(): Promise<void> {}

  protected async writeRecord(record: ValidRecord, expectedRevision: number | undefined): Promise<number> {
    const stored = this.records.get(record.pluginId)?.revision ?? 0;
    if (expectedRevision !== undefined && expectedRevision !== stored) {
      throw this.conflict(record.pluginId, expectedRevision, stored);
    }
    // Parsing the guard's serialization both copies the value and gives it JSON's exact semantics
    // (-0 reads back as 0), the same as every persistent backend.
    this.records.set(record.pluginId, {
      data: JSON.parse(record.dataJson) as JsonValue,
      version: record.version,
      revision: stored + 1,
      lastModified: record.lastModified.getTime(),
    });
    return stored + 1;
  }

  protected async readRecord(pluginId: PluginId): Promise<PluginState | undefined> {
    const record = this.records.get(pluginId);
    return record && toState(pluginId, record);
  }

  protected async removeRecord(pluginId: PluginId): Promise<void> {
    this.records.delete(pluginId);
  }

  protected async readAllRecords(): Promise<PluginState[]> {
    return Array.from(this.records, ([pluginId, record]) => toState(pluginId, record));
  }

  protected async closeStore(): Promise<void> {
    this.records.clear();
  }
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
