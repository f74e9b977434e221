// The three things measured, behind one small shape so the runner can interleave them op by op.
import {
  FileSystemStateStorage,
  type JsonValue,
  MemoryStateStorage,
  type PluginStateStorage,
} from '../src/index.js';
import { RawRecipe } from './raw-recipe.js';

export interface Subject {
  save(id: string, data: JsonValue): Promise<unknown>;
  /** The stored data, or undefined. */
  load(id: string): Promise<JsonValue | undefined>;
  delete(id: string): Promise<unknown>;
  /** How many states a list returned. */
  list(): Promise<number>;
  close(): Promise<void>;
}

export interface SubjectKind {
  name: 'raw' | 'file' | 'memory';
  /** Whether its writes wait for the disk (the fsync probe is printed beside these). */
  diskBound: boolean;
  open(dir: string): Promise<Subject>;
  /**
   * A first list from a fresh instance on an existing folder (what a restarted host pays), timed up
   * to the list's result; `close` is not timed. Absent where a fresh instance holds nothing.
   */
  coldList?(dir: string): Promise<{ count: number; close: () => Promise<void> }>;
}

function librarySubject(storage: PluginStateStorage): Subject {
  return {
    save: (pluginId, data) => storage.saveState({ pluginId, data, lastModified: new Date() }),
    load: async (pluginId) => (await storage.loadState(pluginId))?.data,
    delete: (pluginId) => storage.deleteState(pluginId),
    list: async () => (await storage.listStates()).length,
    close: async () => storage.close?.(),
  };
}

export const raw: SubjectKind = {
  name: 'raw',
  diskBound: true,
  async open(dir) {
    const recipe = new RawRecipe(dir);
    return {
      save: async (id, data) => recipe.save(id, data),
      load: async (id) => recipe.load(id),
      delete: async (id) => recipe.delete(id),
      list: async () => recipe.list().length,
      close: async () => recipe.close(),
    };
  },
  async coldList(dir) {
    const recipe = new RawRecipe(dir);
    const count = recipe.list().length;
    return { count, close: async () => recipe.close() };
  },
};

export const file: SubjectKind = {
  name: 'file',
  diskBound: true,
  async open(dir) {
    const storage = new FileSystemStateStorage(dir);
    await storage.open();
    return librarySubject(storage);
  },
  async coldList(dir) {
    const storage = new FileSystemStateStorage(dir);
    const count = (await storage.listStates()).length; // opens the store, then scans the folder
    return { count, close: () => storage.close() };
  },
};

export const memory: SubjectKind = {
  name: 'memory',
  diskBound: false,
  async open() {
    const storage = new MemoryStateStorage();
    await storage.open();
    return librarySubject(storage);
  },
};

/**
 * Run together, interleaved op by op: the two that wait for the disk, so that their ratio is taken
 * under the same disk conditions. The memory storage runs on its own afterwards, so that the heap
 * it holds (up to 20 parsed 1 MB states) does not add garbage-collection time to the disk subjects.
 */
export const GROUPS: readonly (readonly SubjectKind[])[] = [[raw, file], [memory]];
