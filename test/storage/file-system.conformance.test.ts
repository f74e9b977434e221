import { mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileSystemStateStorage } from '../../src/index.js';
import { describeStorageConformance } from '../../src/testing/index.js';

const root = mkdtempSync(join(tmpdir(), 'plugin-state-conformance-'));
after(() => rmSync(root, { recursive: true, force: true }));
let stores = 0;

for (const listCache of [true, false]) {
  describeStorageConformance(
    `FileSystemStateStorage (listCache: ${listCache})`,
    ({ limits, history }) =>
      new FileSystemStateStorage(join(root, String(stores++)), { limits, history, listCache }),
    { describe, it, after },
    {
      persistent: true,
      reopen: (previous, { limits, history }) =>
        new FileSystemStateStorage((previous as FileSystemStateStorage).baseDir, {
          limits,
          history,
          listCache,
        }),
      sharedInstances: true,
      corrupt: (storage, id) => {
        // A save cut short: what a crash inside a non-atomic writer would leave.
        const file = join((storage as FileSystemStateStorage).baseDir, `${id}.json`);
        truncateSync(file, Math.floor(statSync(file).size / 2));
      },
      listWithCorruptRecord: 'skip',
      history: true,
    },
  );
}
