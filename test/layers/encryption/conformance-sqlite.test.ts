// The conformance suite through the encryption layer over SQLite storage.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { PluginStateStorage } from '../../../src/index.js';
import { encrypted, envelopeLimits } from '../../../src/layers/encryption/index.js';
import { SqliteStateStorage } from '../../../src/storage/sqlite/index.js';
import { describeStorageConformance, type StorageFactoryOptions } from '../../../src/testing/index.js';
import { newKey } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'plugin-state-encrypted-sqlite-'));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const key = newKey('sqlite-conformance');
const paths = new WeakMap<PluginStateStorage, string>();

/** The suite's `history` goes to the SQLite store: history is kept under the layer, encrypted. */
function store(path: string, { limits, history }: StorageFactoryOptions): PluginStateStorage {
  const layer = encrypted(new SqliteStateStorage(path, { limits: envelopeLimits(limits), history }), {
    key,
    limits,
  });
  paths.set(layer, path);
  return layer;
}

describeStorageConformance(
  'encrypted(SqliteStateStorage)',
  (options) => store(join(root, `${files++}.db`), options),
  { describe, it, after },
  {
    persistent: true,
    reopen: (previous, options) => store(paths.get(previous)!, options),
    sharedInstances: true,
    corrupt: (storage, pluginId) => {
      // Bytes under the layer cut short, written through a connection of its own.
      const db = new Database(paths.get(storage)!);
      try {
        db.prepare('UPDATE plugin_states SET data = ? WHERE plugin_id = ?').run('{"soon":"corr', pluginId);
      } finally {
        db.close();
      }
    },
    listWithCorruptRecord: 'skip',
    history: true,
  },
);
