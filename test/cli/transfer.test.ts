// export, import, backup and restore-backup through a spawned `plugin-state`, on a file and a
// SQLite store, each archive also carried to the other backend.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pluginIdFromName } from '../../src/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { cliBackends, ESCAPE, lines, runCli, seed, withStore } from './cli.js';

const ids = Array.from({ length: 150 }, (_, i) => pluginIdFromName(`com.acme.plugin-${i}`));

/** Every state of a store, id → { data, version }. */
async function contents(url: string) {
  return withStore(url, async (storage) => {
    const states = await storage.listStates();
    return new Map(states.map((s) => [s.pluginId, { data: s.data, version: s.version }]));
  });
}

for (const backend of cliBackends) {
  const other = cliBackends.find((b) => b !== backend)!;
  describe(`export, import, backup and restore-backup on the ${backend.name} store`, () => {
    it(`export to a file (0600) and stdout; import into ${other.name} gives the same states`, async (t) => {
      const dir = tempDir(t);
      const url = await backend.url(dir, t);
      await seed(
        url,
        ids.map((pluginId, i) => ({
          pluginId,
          data: { i, text: `é ${i}`, list: [i, null, true] },
          version: 1 + (i % 3),
        })),
      );
      const file = join(dir, 'export.json');
      const toFile = await runCli(['export', file, '--storage', url]);
      assert.equal(toFile.code, 0, toFile.stderr);
      assert.equal(toFile.stdout, '');
      assert.equal(toFile.stderr, `exported 150 states to ${file}\n`);
      assert.doesNotMatch(toFile.stderr, ESCAPE, 'no progress bar when stderr is not a terminal');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const document = JSON.parse(readFileSync(file, 'utf8'));
      assert.equal(document.format, 'plugin-state-export');
      assert.equal(document.states.length, 150);

      const toStdout = await runCli(['export', '--storage', url]);
      assert.equal(toStdout.code, 0, toStdout.stderr);
      assert.deepEqual(JSON.parse(toStdout.stdout).states, document.states);

      const target = await other.url(join(dir, 'other'), t);
      const dry = await runCli(['import', file, '--dry-run', '--json', '--storage', target]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.deepEqual(JSON.parse(dry.stdout), { imported: 0, checked: 150, dryRun: true });
      assert.equal((await contents(target)).size, 0);

      const imported = await runCli(['import', '-', '--storage', target], { input: toStdout.stdout });
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stdout, /imported 150 states/);
      assert.deepEqual(await contents(target), await contents(url));
    });

    it('import checks the whole file first: one bad state and nothing is written', async (t) => {
      const dir = tempDir(t);
      const url = await backend.url(dir, t);
      await seed(url, [{ pluginId: ids[0]!, data: 'kept' }]);
      const file = join(dir, 'bad.json');
      const states = [
        { pluginId: ids[1], version: 1, lastModified: new Date().toISOString(), data: { ok: true } },
        { pluginId: 'not-a-uuid', version: 1, lastModified: new Date().toISOString(), data: 1 },
        { pluginId: ids[2], version: 0, data: 2 },
        { pluginId: ids[3], data: JSON.parse('{"__proto__":{"polluted":true}}') },
      ];
      writeFileSync(file, JSON.stringify({ format: 'plugin-state-export', formatVersion: 1, states }));
      const result = await runCli(['import', file, '--storage', url]);
      assert.equal(result.code, 1);
      assert.equal(lines(result.stderr).length, 1, result.stderr);
      assert.match(
        result.stderr,
        /^error: cannot import .*bad\.json, nothing was written: states\[1\]\.pluginId "not-a-uuid" is not a UUID; states\[2\]\.version 0 .*; states\[3\].*__proto__.*fix the file and run again\n$/,
      );
      assert.deepEqual([...(await contents(url)).keys()], [ids[0]]);

      writeFileSync(file, '{"states": []}');
      const notExport = await runCli(['import', file, '--storage', url]);
      assert.equal(notExport.code, 1);
      assert.match(notExport.stderr, /it is not a plugin-state export/);
    });

    it(`backup --history, then restore-backup into ${other.name} (merge and replace)`, async (t) => {
      const dir = tempDir(t);
      const url = await backend.url(dir, t);
      await seed(url, [
        { pluginId: ids[0]!, data: 'first' },
        { pluginId: ids[0]!, data: 'second' },
        { pluginId: ids[1]!, data: { n: 1 } },
      ]);
      const archive = join(dir, 'states.ndjson');
      const backedUp = await runCli(['backup', archive, '--history', '--json', '--storage', url]);
      assert.equal(backedUp.code, 0, backedUp.stderr);
      const result = JSON.parse(backedUp.stdout);
      assert.equal(result.states, 2);
      assert.equal(result.records, 3);
      assert.match(result.sha256, /^[0-9a-f]{64}$/);
      assert.equal(statSync(archive).mode & 0o777, 0o600);

      const target = await other.url(join(dir, 'other'), t);
      await seed(target, [{ pluginId: ids[2]!, data: 'only in the target' }]);
      const dry = await runCli(['restore-backup', archive, '--dry-run', '--json', '--storage', target]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(JSON.parse(dry.stdout).dryRun, true);
      assert.equal((await contents(target)).size, 1);

      const merged = await runCli(['restore-backup', archive, '--storage', target]);
      assert.equal(merged.code, 0, merged.stderr);
      assert.match(merged.stdout, /^verified .*: 2 states from .*\nrestored 2 states, 1 history record\n$/);
      assert.equal((await contents(target)).size, 3);
      await withStore(target, async (storage) => {
        assert.deepEqual(
          (await storage.listRevisions!(ids[0]!)).map((r) => r.revision),
          [2, 1],
          'the history record was restored before the current one',
        );
      });

      const replaced = await runCli([
        'restore-backup',
        archive,
        '--mode',
        'replace',
        '--json',
        '--storage',
        target,
      ]);
      assert.equal(replaced.code, 0, replaced.stderr);
      assert.equal(JSON.parse(replaced.stdout).deleted, 1);
      assert.deepEqual(await contents(target), await contents(url));

      const badMode = await runCli(['restore-backup', archive, '--mode', 'overwrite', '--storage', target]);
      assert.equal(badMode.code, 2);
      assert.match(badMode.stderr, /Allowed choices are merge, replace/);
    });

    it('restore-backup of a damaged archive: exit 1 naming the line, the store unchanged', async (t) => {
      const dir = tempDir(t);
      const url = await backend.url(dir, t);
      await seed(url, [
        { pluginId: ids[0]!, data: { n: 1 } },
        { pluginId: ids[1]!, data: { n: 2 } },
      ]);
      const archive = join(dir, 'states.ndjson');
      assert.equal((await runCli(['backup', archive, '--storage', url])).code, 0);
      await seed(url, [{ pluginId: ids[0]!, data: { n: 'changed after the backup' } }]);
      const before = await contents(url);

      const text = readFileSync(archive, 'utf8');
      const changed = join(dir, 'changed.ndjson');
      writeFileSync(changed, text.replace('{"n":2}', '{"n":3}'));
      const truncated = join(dir, 'truncated.ndjson');
      writeFileSync(truncated, text.slice(0, text.lastIndexOf('{"trailer"')));
      for (const [damaged, reason] of [
        [changed, /is damaged at line \d+: the record's checksum does not match.*Nothing was written/],
        [truncated, /trailer|truncated/i],
      ] as const) {
        const result = await runCli(['restore-backup', damaged, '--mode', 'replace', '--storage', url]);
        assert.equal(result.code, 1, result.stderr);
        assert.equal(result.stdout, '');
        assert.equal(lines(result.stderr).length, 1, result.stderr);
        assert.match(result.stderr, reason);
        assert.deepEqual(await contents(url), before, 'nothing was written');
      }
      const missing = await runCli(['restore-backup', join(dir, 'none.ndjson'), '--storage', url]);
      assert.equal(missing.code, 1);
      assert.equal(lines(missing.stderr).length, 1, missing.stderr);
    });
  });
}
