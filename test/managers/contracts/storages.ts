// The storages the contract tests run over, and a small generic plugin that records what it gets.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  MemoryStateStorage,
  openStorage,
  type Plugin,
  type PluginId,
  type PluginStateStorage,
  pluginIdFromName,
  type StateContract,
} from '../../../src/index.js';

export interface StorageKind {
  name: 'memory' | 'file' | 'sqlite';
  /** A fresh, empty storage, closed (and its folder removed) when the test ends. */
  open(t: TestContext): Promise<PluginStateStorage>;
}

/** A folder of its own for one test, removed when it ends, after `close` has run. */
function freshDir(t: TestContext, close: () => Promise<void>): string {
  const dir = mkdtempSync(join(tmpdir(), 'plugin-state-contracts-'));
  t.after(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

async function openIn(t: TestContext, url: (dir: string) => string): Promise<PluginStateStorage> {
  let storage: PluginStateStorage | undefined;
  const dir = freshDir(t, async () => {
    await storage?.close?.();
  });
  storage = await openStorage(url(dir));
  return storage;
}

export const memoryKind: StorageKind = {
  name: 'memory',
  open: async (t) => {
    const storage = new MemoryStateStorage();
    t.after(() => storage.close());
    return storage;
  },
};

export const fileKind: StorageKind = {
  name: 'file',
  open: (t) => openIn(t, (dir) => `file:${join(dir, 'states')}`),
};

export const sqliteKind: StorageKind = {
  name: 'sqlite',
  open: (t) => openIn(t, (dir) => `sqlite:${join(dir, 'states.db')}`),
};

/** Memory first, then the two durable local backends. */
export const storageKinds: StorageKind[] = [memoryKind, fileKind, sqliteKind];

/** A plugin that holds one value of type T and records every value `setState` handed it. */
export interface Holder<T> extends Plugin<T> {
  value: T;
  readonly restored: T[];
}

export function holder<T>(name: string, contract: StateContract<T> | undefined, value: T): Holder<T> {
  const id: PluginId = pluginIdFromName(`contracts.${name}`);
  return {
    id,
    name,
    value,
    restored: [],
    ...(contract ? { stateContract: contract } : {}),
    getState() {
      return this.value;
    },
    setState(data: T) {
      this.restored.push(data);
      this.value = data;
    },
  };
}
