import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { PluginStateStorage } from '../../../src/index.js';
import { SqliteStateStorage } from '../../../src/storage/sqlite/index.js';
import { describeStorageConformance, type StorageFactoryOptions } from '../../../src/testing/index.js';

const root = mkdtempSync(join(tmpdir(), 'plugin-state-sqlite-conformance-'));
let files = 0;
const hostDatabases: Database.Database[] = [];
after(() => {
  for (const db of hostDatabases) if (db.open) db.close();
  rmSync(root, { recursive: true, force: true });
});

/** Writes garbage into the data column through a connection of its own: JSON cut short. */
function corruptThroughOtherConnection(path: string, table: string, pluginId: string): void {
  const db = new Database(path);
  try {
    db.prepare(`UPDATE ${table} SET data = ? WHERE plugin_id = ?`).run('{"soon":"corr', pluginId);
  } finally {
    db.close();
  }
}

for (const listCache of [true, false]) {
  describeStorageConformance(
    `SqliteStateStorage on a path (listCache: ${listCache})`,
    (options) => new SqliteStateStorage(join(root, `${files++}.db`), { ...options, listCache }),
    { describe, it, after },
    {
      persistent: true,
      reopen: (previous, options) =>
        new SqliteStateStorage((previous as SqliteStateStorage).filename, { ...options, listCache }),
      sharedInstances: true,
      corrupt: (storage, pluginId) =>
        corruptThroughOtherConnection((storage as SqliteStateStorage).filename, 'plugin_states', pluginId),
      listWithCorruptRecord: 'skip',
      history: true,
    },
  );
}

// The host owns the connection: the store borrows it, and the corrupt hook writes through that very
// connection (which PRAGMA data_version alone would not notice; total_changes() does).
const hostOf = new WeakMap<PluginStateStorage, Database.Database>();
function hostStore(path: string, options: StorageFactoryOptions): SqliteStateStorage {
  const db = new Database(path);
  hostDatabases.push(db);
  const store = new SqliteStateStorage(db, { ...options, table: 'host_states' });
  hostOf.set(store, db);
  return store;
}

describeStorageConformance(
  'SqliteStateStorage on a host-owned Database',
  (options) => hostStore(join(root, `${files++}.db`), options),
  { describe, it, after },
  {
    persistent: true,
    reopen: (previous, options) => hostStore((previous as SqliteStateStorage).filename, options),
    sharedInstances: true,
    corrupt: (storage, pluginId) => {
      hostOf
        .get(storage)!
        .prepare('UPDATE host_states SET data = ? WHERE plugin_id = ?')
        .run('{"soon":"corr', pluginId);
    },
    listWithCorruptRecord: 'skip',
    history: true,
  },
);
