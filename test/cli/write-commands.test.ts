// set, delete and restore through a spawned `plugin-state`, on a file and a SQLite store.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pluginIdFromName } from '../../src/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { cliBackends, lines, runCli, seed, withStore } from './cli.js';

const theme = pluginIdFromName('com.acme.theme');

for (const backend of cliBackends) {
  describe(`write commands on the ${backend.name} store`, () => {
    it('set: from a file or stdin, by name; --version; --json; the stored version is kept by default', async (t) => {
      const dir = tempDir(t);
      const url = await backend.url(dir, t);
      const file = join(dir, 'theme.json');
      writeFileSync(file, '{"theme":"dark","font":{"size":14}}');
      const fromFile = await runCli(['set', 'com.acme.theme', file, '--version', '2', '--storage', url]);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      assert.match(
        fromFile.stdout,
        /^saved [0-9a-f-]{36} \(com\.acme\.theme\) as revision 1 \(version 2\)\n$/,
      );

      const fromStdin = await runCli(['set', theme, '-', '--json', '--storage', url], { input: '["light"]' });
      assert.equal(fromStdin.code, 0, fromStdin.stderr);
      const saved = JSON.parse(fromStdin.stdout);
      assert.equal(saved.pluginId, theme);
      assert.equal(saved.revision, 2);
      assert.equal(saved.version, 2, 'without --version the stored version is kept');

      const implicitStdin = await runCli(['set', theme, '--storage', url], { input: 'null' });
      assert.equal(implicitStdin.code, 0, implicitStdin.stderr);
      await withStore(url, async (storage) => {
        const state = await storage.loadState(theme);
        assert.equal(state?.data, null);
        assert.equal(state?.revision, 3);
        assert.deepEqual((await storage.loadRevision!(theme, 1))?.data, {
          theme: 'dark',
          font: { size: 14 },
        });
      });
    });

    it('set --if-revision: saves on a match; a conflict is exit 1 with a clear line and changes nothing', async (t) => {
      const url = await backend.url(tempDir(t), t);
      const create = await runCli(['set', theme, '--if-revision', '0', '--storage', url], { input: '1' });
      assert.equal(create.code, 0, create.stderr);
      const again = await runCli(['set', theme, '--if-revision', '0', '--storage', url], { input: '2' });
      assert.equal(again.code, 1);
      assert.equal(lines(again.stderr).length, 1, again.stderr);
      assert.match(
        again.stderr,
        /--if-revision 0 was given but revision 1 is stored; .*retry with --if-revision 1\.$/m,
      );

      const match = await runCli(['set', theme, '--if-revision', '1', '--storage', url], { input: '3' });
      assert.equal(match.code, 0, match.stderr);
      const stale = await runCli(
        ['set', 'com.acme.theme', '--if-revision', '1', '--json', '--storage', url],
        {
          input: '4',
        },
      );
      assert.equal(stale.code, 1);
      assert.equal(stale.stdout, '');
      const [line, ...rest] = lines(stale.stderr);
      assert.deepEqual(rest, []);
      assert.equal(
        line,
        `error: conflict: ${theme} was not changed: --if-revision 1 was given but revision 2 is stored; ` +
          `read it again (plugin-state get ${theme}) and retry with --if-revision 2.`,
      );
      assert.doesNotMatch(stale.stderr, /\bat .*\.(ts|js):\d+/);
      await withStore(url, async (storage) => assert.equal((await storage.loadState(theme))?.data, 3));
    });

    it('set: invalid JSON, a dangerous key and an over-deep value are refused in one line, nothing stored', async (t) => {
      const dir = tempDir(t);
      const url = await backend.url(dir, t);
      const broken = await runCli(['set', theme, '--storage', url], { input: '{"theme": ' });
      assert.equal(broken.code, 1);
      assert.equal(lines(broken.stderr).length, 1, broken.stderr);
      assert.match(
        broken.stderr,
        /^error: the data from stdin is not valid JSON \(.*\); fix it and run again\n$/,
      );

      const proto = await runCli(['set', theme, '--storage', url], { input: '{"a":{"__proto__":{"x":1}}}' });
      assert.equal(proto.code, 1);
      assert.equal(lines(proto.stderr).length, 1, proto.stderr);
      assert.match(proto.stderr, /__proto__/);

      const deep = await runCli(['set', theme, '--storage', url], {
        input: `${'['.repeat(200)}${']'.repeat(200)}`,
      });
      assert.equal(deep.code, 1);
      assert.equal(lines(deep.stderr).length, 1, deep.stderr);
      assert.match(deep.stderr, /^error: .*(deep|depth|nest)/i);

      const missing = await runCli(['set', theme, join(dir, 'nope.json'), '--storage', url]);
      assert.equal(missing.code, 1);
      assert.match(
        missing.stderr,
        /^error: cannot read the data from .*nope\.json: no such file or directory\n$/,
      );
      await withStore(url, async (storage) => assert.equal(await storage.loadState(theme), undefined));
    });

    it('delete keeps the last revision, restore brings it back; --purge removes the history', async (t) => {
      const url = await backend.url(tempDir(t), t);
      await seed(url, [
        { pluginId: theme, data: 'one' },
        { pluginId: theme, data: 'two' },
      ]);
      const deleted = await runCli(['delete', 'com.acme.theme', '--storage', url]);
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.match(deleted.stdout, new RegExp(`deleted .*undo: plugin-state restore ${theme} 2`));
      const twice = await runCli(['delete', theme, '--json', '--storage', url]);
      assert.equal(twice.code, 0);
      assert.deepEqual(JSON.parse(twice.stdout), {
        pluginId: theme,
        deleted: false,
        revision: null,
        purged: false,
      });

      const restored = await runCli(['restore', theme, '2', '--json', '--storage', url]);
      assert.equal(restored.code, 0, restored.stderr);
      const result = JSON.parse(restored.stdout);
      assert.equal(result.restoredFrom, 2);
      assert.equal(result.revision, 3);

      const older = await runCli(['restore', 'com.acme.theme', '1', '--storage', url]);
      assert.equal(older.code, 0, older.stderr);
      assert.match(older.stdout, /restored revision 1 of .*: it is now revision 4/);
      await withStore(url, async (storage) => assert.equal((await storage.loadState(theme))?.data, 'one'));

      const conflict = await runCli(['restore', theme, '1', '--if-revision', '3', '--storage', url]);
      assert.equal(conflict.code, 1);
      assert.equal(lines(conflict.stderr).length, 1);
      assert.match(conflict.stderr, /revision 4 is stored/);

      const notKept = await runCli(['restore', theme, '99', '--storage', url]);
      assert.equal(notKept.code, 1);
      assert.equal(lines(notKept.stderr).length, 1);
      assert.match(notKept.stderr, /revision 99 of .* is not kept \(kept: 4, 3, 2, 1\)/);

      const purged = await runCli(['delete', theme, '--purge', '--storage', url]);
      assert.equal(purged.code, 0, purged.stderr);
      await withStore(url, async (storage) => {
        assert.equal(await storage.loadState(theme), undefined);
        assert.deepEqual(await storage.listRevisions!(theme), []);
      });
    });
  });
}
