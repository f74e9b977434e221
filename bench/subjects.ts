// The things measured, behind one small shape so the runner can interleave them op by op: the file
// and memory storages with the raw fsync recipe, the SQLite storage with a raw better-sqlite3 line,
// the PostgreSQL storage with a raw node-postgres line.
import { basename, join } from 'node:path';
import {
  FileSystemStateStorage,
  type JsonValue,
  MemoryStateStorage,
  type PluginStateStorage,
} from '../src/index.js';
import { PostgresStateStorage } from '../src/storage/postgres/index.js';
import { SqliteStateStorage } from '../src/storage/sqlite/index.js';
import { type PostgresEnv, tableFor } from './postgres-env.js';
import { RawPg } from './raw-pg.js';
import { RawRecipe } from './raw-recipe.js';
import { RawSqlite } from './raw-sqlite.js';

export interface Subject {
  save(id: string, data: JsonValue): Promise<unknown>;
  /** The stored data, or undefined. */
  load(id: string): Promise<JsonValue | undefined>;
  delete(id: string): Promise<unknown>;
  /** How many states a list returned. */
  list(): Promise<number>;
  close(): Promise<void>;
}

export type SubjectName = 'raw' | 'file' | 'memory' | 'raw-sqlite' | 'sqlite' | 'raw-pg' | 'postgres';

/** Each library subject's reference line: the ratio columns and the relative targets divide by it. */
export const REFERENCE: Partial<Record<SubjectName, SubjectName>> = {
  file: 'raw',
  sqlite: 'raw-sqlite',
  postgres: 'raw-pg',
};

export interface SubjectKind {
  name: SubjectName;
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

/** The library's SQLite file in a subject's folder (the raw line keeps its own, raw.db, in another). */
const SQLITE_FILE = 'states.db';

export const rawSqlite: SubjectKind = {
  name: 'raw-sqlite',
  diskBound: true,
  async open(dir) {
    const db = new RawSqlite(dir);
    return {
      save: async (id, data) => db.save(id, data),
      load: async (id) => db.load(id),
      delete: async (id) => db.delete(id),
      list: async () => db.list().length,
      close: async () => db.close(),
    };
  },
  async coldList(dir) {
    const db = new RawSqlite(dir);
    const count = db.list().length;
    return { count, close: async () => db.close() };
  },
};

/** `SqliteStateStorage` with its defaults: WAL, synchronous=FULL (durable), list cache on. */
export const sqlite: SubjectKind = {
  name: 'sqlite',
  diskBound: true,
  async open(dir) {
    const storage = new SqliteStateStorage(join(dir, SQLITE_FILE));
    await storage.open();
    return librarySubject(storage);
  },
  async coldList(dir) {
    const storage = new SqliteStateStorage(join(dir, SQLITE_FILE));
    const count = (await storage.listStates()).length; // opens the database, then reads every row
    return { count, close: () => storage.close() };
  },
};

/**
 * The PostgreSQL subjects on `env`'s server, in its schema: each subject and size gets a table of
 * its own, named after its folder's name (no folder is used), dropped when the subject closes.
 */
export function postgresKinds(env: PostgresEnv): [SubjectKind, SubjectKind] {
  const rawPg: SubjectKind = {
    name: 'raw-pg',
    diskBound: true,
    async open(dir) {
      const table = tableFor(basename(dir));
      const db = await RawPg.open(env.url, env.schema, table);
      return {
        save: (id, data) => db.save(id, data),
        load: (id) => db.load(id),
        delete: (id) => db.delete(id),
        list: async () => (await db.list()).length,
        close: async () => {
          await db.close();
          await env.dropTable(table);
        },
      };
    },
    async coldList(dir) {
      const db = await RawPg.open(env.url, env.schema, tableFor(basename(dir)));
      const count = (await db.list()).length;
      return { count, close: () => db.close() };
    },
  };
  const postgres: SubjectKind = {
    name: 'postgres',
    diskBound: true,
    async open(dir) {
      const table = tableFor(basename(dir));
      const storage = new PostgresStateStorage(env.url, { schema: env.schema, table });
      await storage.open();
      const subject = librarySubject(storage);
      return {
        ...subject,
        close: async () => {
          await subject.close();
          await env.dropTable(table);
        },
      };
    },
    async coldList(dir) {
      // A restarted host: a new pool, its first connection, the table check, then the list.
      const storage = new PostgresStateStorage(env.url, {
        schema: env.schema,
        table: tableFor(basename(dir)),
      });
      const count = (await storage.listStates()).length;
      return { count, close: () => storage.close() };
    },
  };
  return [rawPg, postgres];
}

/**
 * Each group runs together, interleaved op by op: a library storage and its reference line, so
 * that their ratio is taken under the same disk conditions. The memory storage runs on its own at
 * the end, so that the heap it holds (up to 20 parsed 1 MB states) does not add garbage-collection
 * time to the disk subjects. The PostgreSQL group is left out when no server answered.
 */
export function subjectGroups(postgres: PostgresEnv | undefined): (readonly SubjectKind[])[] {
  return [[raw, file], [rawSqlite, sqlite], ...(postgres ? [postgresKinds(postgres)] : []), [memory]];
}
