// Small real plugins and a storage spy shared by the manager tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import {
  type JsonValue,
  MemoryStateStorage,
  type Plugin,
  type PluginId,
  type PluginState,
  type PluginStateStorage,
  pluginIdFromName,
  type SaveOptions,
  type StateReport,
} from '../../src/index.js';

/** A plugin holding a counter and a label; it records every `setState` call. */
export class CounterPlugin implements Plugin {
  readonly id: PluginId;
  readonly name: string;
  count: number;
  label: string;
  readonly restored: JsonValue[] = [];

  constructor(name: string, count = 0, id: PluginId = pluginIdFromName(name)) {
    this.id = id;
    this.name = name;
    this.count = count;
    this.label = `label of ${name}`;
  }

  async getState(): Promise<JsonValue> {
    return { count: this.count, label: this.label };
  }

  setState(data: JsonValue): void {
    this.restored.push(data);
    const state = data as { count: number; label: string };
    this.count = state.count;
    this.label = state.label;
  }
}

/** A plugin whose `getState` throws `error`. */
export function failingGetState(name: string, error: Error): Plugin & { setCalls: number } {
  return {
    id: pluginIdFromName(name),
    setCalls: 0,
    getState() {
      throw error;
    },
    setState() {
      this.setCalls++;
    },
  };
}

/** A plugin whose `setState` rejects with `error`. */
export function failingSetState(name: string, error: Error): Plugin {
  return {
    id: pluginIdFromName(name),
    getState: () => ({ ok: true }),
    setState: async () => {
      throw error;
    },
  };
}

/** A plugin whose state holds a function, which is not JSON. */
export function functionDataPlugin(name: string): Plugin {
  return {
    id: pluginIdFromName(name),
    getState: () => ({ callback: () => 1 }) as unknown as JsonValue,
    setState: () => {},
  };
}

/** Collects reports; `throwing` makes the hook throw after recording, as a buggy logger would. */
export function reportCollector(throwing = false): {
  reports: StateReport[];
  onReport: (r: StateReport) => void;
} {
  const reports: StateReport[] = [];
  return {
    reports,
    onReport: (report) => {
      reports.push(report);
      if (throwing) throw new Error('logger exploded');
    },
  };
}

/** A memory storage that records saves and closes, and can be told to fail on close. */
export class SpyStorage implements PluginStateStorage {
  readonly inner = new MemoryStateStorage();
  readonly saved: PluginState[] = [];
  closes = 0;
  closeError: unknown;

  async saveState(state: PluginState, options?: SaveOptions): Promise<PluginState> {
    const stored = await this.inner.saveState(state, options);
    this.saved.push(stored);
    return stored;
  }
  loadState(pluginId: PluginId): Promise<PluginState | undefined> {
    return this.inner.loadState(pluginId);
  }
  deleteState(pluginId: PluginId): Promise<void> {
    return this.inner.deleteState(pluginId);
  }
  listStates(): Promise<PluginState[]> {
    return this.inner.listStates();
  }
  async close(): Promise<void> {
    this.closes++;
    if (this.closeError !== undefined) throw this.closeError;
    await this.inner.close();
  }

  savedIds(): string[] {
    return this.saved.map((state) => state.pluginId).sort();
  }
}

/** A fresh temporary directory, removed when the test file ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'plugin-state-managers-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function sortedIds(...plugins: Plugin[]): string[] {
  return plugins.map((plugin) => plugin.id).sort();
}
