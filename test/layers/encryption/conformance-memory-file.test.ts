// The conformance suite through the encryption layer, over memory and file storage: the layer is
// a storage like any other. Each inner store is created with envelopeLimits(limits), as documented.
import { mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileSystemStateStorage, MemoryStateStorage, type PluginStateStorage } from '../../../src/index.js';
import { encrypted, envelopeLimits } from '../../../src/layers/encryption/index.js';
import { describeStorageConformance } from '../../../src/testing/index.js';
import { newKey } from './helpers.js';

const key = newKey('conformance');
const older = newKey('conformance-old');

describeStorageConformance(
  'encrypted(MemoryStateStorage)',
  ({ limits }) => encrypted(new MemoryStateStorage({ limits: envelopeLimits(limits) }), { key, limits }),
  { describe, it, after },
  { persistent: false },
);

const root = mkdtempSync(join(tmpdir(), 'plugin-state-encrypted-conformance-'));
after(() => rmSync(root, { recursive: true, force: true }));
let stores = 0;
const dirs = new WeakMap<PluginStateStorage, string>();

function fileStore(dir: string, limits: Parameters<typeof envelopeLimits>[0]): PluginStateStorage {
  const store = encrypted(new FileSystemStateStorage(dir, { limits: envelopeLimits(limits) }), {
    key,
    olderKeys: [older],
    limits,
  });
  dirs.set(store, dir);
  return store;
}

describeStorageConformance(
  'encrypted(FileSystemStateStorage)',
  ({ limits }) => fileStore(join(root, String(stores++)), limits),
  { describe, it, after },
  {
    persistent: true,
    reopen: (previous, { limits }) => fileStore(dirs.get(previous)!, limits),
    sharedInstances: true,
    corrupt: (storage, id) => {
      const file = join(dirs.get(storage)!, `${id}.json`);
      truncateSync(file, Math.floor(statSync(file).size / 2));
    },
    listWithCorruptRecord: 'skip',
  },
);
