// `plugin-state list --json` over 10,000 states, seeded through the library: measured and
// reported (target: 1 s for the whole command), never asserted as a timing.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  FileSystemStateStorage,
  nodeFileSystem,
  type PluginStateStorage,
  pluginIdFromName,
} from '../../src/index.js';
import { SqliteStateStorage } from '../../src/storage/sqlite/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { BUILT_ENTRY, runCli } from './cli.js';

const COUNT = 10_000;

/**
 * The stores to measure, each with a seeding store of the library that skips durability: the
 * seed is test data, and 10,000 fsyncs would only slow the test down.
 */
const stores: Array<{ name: string; open(dir: string): { url: string; seeder: PluginStateStorage } }> = [
  {
    name: 'file',
    open: (dir) => ({
      url: `file:${join(dir, 'states')}`,
      seeder: new FileSystemStateStorage(join(dir, 'states'), {
        fs: { ...nodeFileSystem, fsyncSync: () => {} },
      }),
    }),
  },
  {
    name: 'sqlite',
    open: (dir) => ({
      url: `sqlite:${join(dir, 'states.db')}`,
      seeder: new SqliteStateStorage(join(dir, 'states.db'), { synchronous: 'normal' }),
    }),
  },
];

for (const backend of stores) {
  describe(`list --json of ${COUNT.toLocaleString('en-US')} states on the ${backend.name} store`, () => {
    it('lists every state in one JSON document; the time is reported', async (t) => {
      const { url, seeder: storage } = backend.open(tempDir(t));
      const seedStart = performance.now();
      await seedMany(storage);
      t.diagnostic(`seeded ${COUNT} states in ${Math.round(performance.now() - seedStart)} ms`);

      const runs: string[] = [];
      const entries = existsSync(BUILT_ENTRY) ? [false, true] : [false];
      for (const built of entries) {
        for (let run = 1; run <= 2; run++) {
          const result = await runCli(['list', '--json', '--storage', url], { built });
          assert.equal(result.code, 0, result.stderr);
          const document = JSON.parse(result.stdout);
          assert.equal(document.states.length, COUNT);
          assert.deepEqual(document.skipped, []);
          runs.push(`${built ? 'dist' : 'tsx'} run ${run}: ${Math.round(result.ms)} ms`);
        }
      }
      // The same through a process that only starts and exits, to show what start-up costs.
      const startup = await runCli(['--version']);
      const startupBuilt = existsSync(BUILT_ENTRY) ? await runCli(['--version'], { built: true }) : undefined;
      t.diagnostic(
        `${backend.name}: list --json of ${COUNT} states (whole process): ${runs.join(', ')}; ` +
          `start-up alone: tsx ${Math.round(startup.ms)} ms` +
          (startupBuilt ? `, dist ${Math.round(startupBuilt.ms)} ms` : '') +
          ' (target: 1 s)',
      );
    });
  });
}

/** Saves COUNT small states, 32 at a time, then closes the store. */
async function seedMany(storage: PluginStateStorage): Promise<void> {
  const ids = Array.from({ length: COUNT }, (_, i) => pluginIdFromName(`com.acme.load-${i}`));
  try {
    for (let i = 0; i < COUNT; i += 32) {
      await Promise.all(
        ids.slice(i, i + 32).map((pluginId, j) =>
          storage.saveState({
            pluginId,
            data: { index: i + j, name: `plugin ${i + j}`, settings: { enabled: true, level: (i + j) % 7 } },
            lastModified: new Date(),
          }),
        ),
      );
    }
  } finally {
    await storage.close?.();
  }
}
