import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { StateLimits } from '../../../src/core/limits.js';
import type { PluginStateStorage } from '../../../src/index.js';
import { SqliteStateStorage } from '../../../src/storage/sqlite/index.js';
import { describeStorageConformance } from '../../../src/testing/index.js';

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
    ({ limits }) => new SqliteStateStorage(join(root, `${files++}.db`), { limits, listCache }),
    { describe, it, after },
    {
      persistent: true,
      reopen: (previous, { limits }) =>
        new SqliteStateStorage((previous as SqliteStateStorage).filename, { limits, listCache }),
      sharedInstances: true,
      corrupt: (storage, pluginId) =>
        corruptThroughOtherConnection((storage as SqliteStateStorage).filename, 'plugin_states', pluginId),
      listWithCorruptRecord: 'skip',
    },
  );
}

// The host owns the connection: the store borrows it, and the corrupt hook writes through that very
// connection (which PRAGMA data_version alone would not notice; total_changes() does).
const hostOf = new WeakMap<PluginStateStorage, Database.Database>();
function hostStore(path: string, limits: Partial<StateLimits> | undefined): SqliteStateStorage {
  const db = new Database(path);
  hostDatabases.push(db);
  const store = new SqliteStateStorage(db, { limits, table: 'host_states' });
  hostOf.set(store, db);
  return store;
}

describeStorageConformance(
  'SqliteStateStorage on a host-owned Database',
  ({ limits }) => hostStore(join(root, `${files++}.db`), limits),
  { describe, it, after },
  {
    persistent: true,
    reopen: (previous, { limits }) => hostStore((previous as SqliteStateStorage).filename, limits),
    sharedInstances: true,
    corrupt: (storage, pluginId) => {
      hostOf
        .get(storage)!
        .prepare('UPDATE host_states SET data = ? WHERE plugin_id = ?')
        .run('{"soon":"corr', pluginId);
    },
    listWithCorruptRecord: 'skip',
  },
);
