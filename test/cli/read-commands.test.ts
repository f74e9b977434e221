// list, get, history and stats through a spawned `plugin-state`, on a file and a SQLite store.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pluginIdFromName } from '../../src/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { cliBackends, lines, runCli, seed, withStore } from './cli.js';

const theme = pluginIdFromName('com.acme.theme');
const counter = pluginIdFromName('com.acme.counter');

for (const backend of cliBackends) {
  describe(`read commands on the ${backend.name} store`, () => {
    it('list: a table for people, one JSON document with --json, sorted by id', async (t) => {
      const url = await backend.url(tempDir(t), t);
      const empty = await runCli(['list', '--storage', url]);
      assert.equal(empty.code, 0, empty.stderr);
      assert.match(empty.stdout, /No states stored/);

      await seed(url, [
        { pluginId: theme, data: { theme: 'dark' } },
        { pluginId: counter, data: { count: 1 }, version: 3 },
        { pluginId: counter, data: { count: 2 }, version: 3 },
      ]);
      const table = await runCli(['list', '--storage', url]);
      assert.equal(table.code, 0, table.stderr);
      const [header, ...rows] = lines(table.stdout);
      assert.match(header!, /^ID\s+VERSION\s+REVISION\s+SIZE\s+LAST MODIFIED$/);
      assert.equal(rows.length, 3); // two states and the count line
      assert.match(table.stdout, new RegExp(`${counter}\\s+3\\s+2\\s+11 B`));

      const json = await runCli(['list', '--json', '--storage', url]);
      assert.equal(json.code, 0, json.stderr);
      assert.equal(json.stderr, '');
      const document = JSON.parse(json.stdout);
      assert.deepEqual(
        document.states.map((s: { pluginId: string }) => s.pluginId),
        [theme, counter].sort(),
      );
      const stored = document.states.find((s: { pluginId: string }) => s.pluginId === counter);
      assert.equal(stored.version, 3);
      assert.equal(stored.revision, 2);
      assert.equal(stored.size, Buffer.byteLength('{"count":2}'));
      assert.ok(!Number.isNaN(Date.parse(stored.lastModified)));
      assert.deepEqual(document.skipped, []);
    });

    it('get: by name or by UUID in any case; --json, --data and --revision', async (t) => {
      const url = await backend.url(tempDir(t), t);
      await seed(url, [
        { pluginId: theme, data: { theme: 'light' } },
        { pluginId: theme, data: { theme: 'dark', sizes: [1, 2] } },
      ]);
      const byName = await runCli(['get', 'com.acme.theme', '--storage', url]);
      assert.equal(byName.code, 0, byName.stderr);
      assert.match(byName.stdout, new RegExp(`${theme} \\(com\\.acme\\.theme\\)`));
      assert.match(byName.stdout, /revision\s+2/);
      assert.match(byName.stdout, /"theme": "dark"/);

      const json = await runCli(['get', theme.toUpperCase(), '--json', '--storage', url]);
      assert.equal(json.code, 0, json.stderr);
      const record = JSON.parse(json.stdout);
      assert.deepEqual(
        { ...record, lastModified: typeof record.lastModified },
        {
          pluginId: theme,
          version: 1,
          revision: 2,
          lastModified: 'string',
          size: Buffer.byteLength('{"theme":"dark","sizes":[1,2]}'),
          data: { theme: 'dark', sizes: [1, 2] },
        },
      );

      const data = await runCli(['get', theme, '--data', '--revision', '1', '--storage', url]);
      assert.equal(data.code, 0, data.stderr);
      assert.deepEqual(JSON.parse(data.stdout), { theme: 'light' });
    });

    it('get: a missing state or revision is exit 1 with one line saying what to do', async (t) => {
      const url = await backend.url(tempDir(t), t);
      await seed(url, [{ pluginId: theme, data: 1 }]);
      const missing = await runCli(['get', 'com.acme.nothing', '--json', '--storage', url]);
      assert.equal(missing.code, 1);
      assert.equal(missing.stdout, '');
      assert.equal(lines(missing.stderr).length, 1, missing.stderr);
      assert.match(
        missing.stderr,
        /^error: no state is stored for [0-9a-f-]{36} \(com\.acme\.nothing\); run 'plugin-state list'/,
      );

      const revision = await runCli(['get', theme, '--revision', '7', '--storage', url]);
      assert.equal(revision.code, 1);
      assert.equal(lines(revision.stderr).length, 1, revision.stderr);
      assert.match(revision.stderr, /revision 7 is not kept for .*; run 'plugin-state history /);
    });

    it('history: the kept revisions, newest first, current marked; --json', async (t) => {
      const url = await backend.url(tempDir(t), t);
      await seed(url, [
        { pluginId: theme, data: 'a' },
        { pluginId: theme, data: 'bb' },
        { pluginId: theme, data: 'ccc' },
      ]);
      const table = await runCli(['history', 'com.acme.theme', '--storage', url]);
      assert.equal(table.code, 0, table.stderr);
      const rows = lines(table.stdout).slice(1);
      assert.deepEqual(
        rows.map((row) => row.trim().split(/\s+/)[0]),
        ['3', '2', '1'],
      );
      assert.match(rows[0]!, /current$/);

      const json = await runCli(['history', theme, '--json', '--storage', url]);
      const document = JSON.parse(json.stdout);
      assert.equal(document.pluginId, theme);
      assert.deepEqual(
        document.revisions.map((r: { revision: number; size: number; current: boolean }) => [
          r.revision,
          r.size,
          r.current,
        ]),
        [
          [3, 5, true],
          [2, 4, false],
          [1, 3, false],
        ],
      );
      const none = await runCli(['history', 'com.acme.never', '--json', '--storage', url]);
      assert.equal(none.code, 0);
      assert.deepEqual(JSON.parse(none.stdout).revisions, []);
    });

    it('stats: counts, sizes, largest, versions, ages; --history counts kept revisions', async (t) => {
      const url = await backend.url(tempDir(t), t);
      await seed(url, [
        { pluginId: theme, data: { theme: 'dark' } },
        { pluginId: counter, data: 'x'.repeat(1000), version: 2 },
        { pluginId: counter, data: 'x'.repeat(2000), version: 2 },
      ]);
      const human = await runCli(['stats', '--storage', url]);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /states\s+2/);
      assert.match(human.stdout, /versions\s+v1: 1, v2: 1/);
      assert.match(human.stdout, /largest states/);

      const json = await runCli(['stats', '--history', '--json', '--storage', url]);
      assert.equal(json.code, 0, json.stderr);
      const stats = JSON.parse(json.stdout);
      assert.equal(stats.states, 2);
      assert.equal(stats.totalBytes, 2002 + Buffer.byteLength('{"theme":"dark"}'));
      assert.equal(stats.largest[0].pluginId, counter);
      assert.equal(stats.largest[0].size, 2002);
      assert.deepEqual(stats.versions, { 1: 1, 2: 1 });
      assert.equal(stats.oldest.pluginId, theme);
      assert.equal(stats.newest.pluginId, counter);
      assert.equal(stats.revisions, 1);
      assert.equal(stats.skipped, 0);
      await withStore(url, async (storage) => assert.equal((await storage.listStates()).length, 2));
    });
  });
}
