// The conformance suite through the encryption layer over SQLite storage.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { StateLimits } from '../../../src/core/limits.js';
import type { PluginStateStorage } from '../../../src/index.js';
import { encrypted, envelopeLimits } from '../../../src/layers/encryption/index.js';
import { SqliteStateStorage } from '../../../src/storage/sqlite/index.js';
import { describeStorageConformance } from '../../../src/testing/index.js';
import { newKey } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'plugin-state-encrypted-sqlite-'));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const key = newKey('sqlite-conformance');
const paths = new WeakMap<PluginStateStorage, string>();

function store(path: string, limits: Partial<StateLimits> | undefined): PluginStateStorage {
  const layer = encrypted(new SqliteStateStorage(path, { limits: envelopeLimits(limits) }), { key, limits });
  paths.set(layer, path);
  return layer;
}

describeStorageConformance(
  'encrypted(SqliteStateStorage)',
  ({ limits }) => store(join(root, `${files++}.db`), limits),
  { describe, it, after },
  {
    persistent: true,
    reopen: (previous, { limits }) => store(paths.get(previous)!, limits),
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
  },
);
