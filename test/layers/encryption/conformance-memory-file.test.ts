// The conformance suite through the encryption layer, over memory and file storage: the layer is
// a storage like any other. Each inner store is created with envelopeLimits(limits), as documented,
// and keeps the history (the suite's `history` goes to the inner store: the layer keeps none).
import { mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileSystemStateStorage, MemoryStateStorage, type PluginStateStorage } from '../../../src/index.js';
import { encrypted, envelopeLimits } from '../../../src/layers/encryption/index.js';
import { describeStorageConformance, type StorageFactoryOptions } from '../../../src/testing/index.js';
import { newKey } from './helpers.js';

const key = newKey('conformance');
const older = newKey('conformance-old');

describeStorageConformance(
  'encrypted(MemoryStateStorage)',
  ({ limits, history }) =>
    encrypted(new MemoryStateStorage({ limits: envelopeLimits(limits), history }), { key, limits }),
  { describe, it, after },
  { persistent: false, history: true },
);

const root = mkdtempSync(join(tmpdir(), 'plugin-state-encrypted-conformance-'));
after(() => rmSync(root, { recursive: true, force: true }));
let stores = 0;
const dirs = new WeakMap<PluginStateStorage, string>();

function fileStore(dir: string, { limits, history }: StorageFactoryOptions): PluginStateStorage {
  const store = encrypted(new FileSystemStateStorage(dir, { limits: envelopeLimits(limits), history }), {
    key,
    olderKeys: [older],
    limits,
  });
  dirs.set(store, dir);
  return store;
}

describeStorageConformance(
  'encrypted(FileSystemStateStorage)',
  (options) => fileStore(join(root, String(stores++)), options),
  { describe, it, after },
  {
    persistent: true,
    reopen: (previous, options) => fileStore(dirs.get(previous)!, options),
    sharedInstances: true,
    corrupt: (storage, id) => {
      const file = join(dirs.get(storage)!, `${id}.json`);
      truncateSync(file, Math.floor(statSync(file).size / 2));
    },
    listWithCorruptRecord: 'skip',
    history: true,
  },
);
