// verify through a spawned `plugin-state`: corrupt current records and history revisions, and
// records over the limits, each reported with its location; and how the other commands treat a
// corrupt record.
import assert from 'node:assert/strict';
import { readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { pluginIdFromName } from '../../src/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { lines, runCli, seed } from './cli.js';

const good = pluginIdFromName('com.acme.good');
const broken = pluginIdFromName('com.acme.broken');
const big = pluginIdFromName('com.acme.big');

/** A store with three states, two revisions of `broken`, and one state of 600 bytes. */
async function seeded(url: string) {
  await seed(url, [
    { pluginId: good, data: { ok: true } },
    { pluginId: broken, data: { n: 1 } },
    { pluginId: broken, data: { n: 2 } },
    { pluginId: big, data: { deep: [[[['x'.repeat(580)]]]] } },
  ]);
}

describe('verify', () => {
  it('a clean store: exit 0, every state and kept revision counted', async (t) => {
    const dir = tempDir(t);
    const url = `file:${join(dir, 'states')}`;
    await seeded(url);
    const result = await runCli(['verify', '--storage', url]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^ok checked 3 states and 1 kept revision in file:.*: every record is readable and within the limits\n$/,
    );
    const json = await runCli(['verify', '--json', '--storage', url]);
    assert.deepEqual(JSON.parse(json.stdout), {
      ok: true,
      storage: url,
      checked: { states: 3, revisions: 1 },
      findings: [],
    });
  });

  it('a truncated <id>.json and a truncated history file: exit 1, each named by its file', async (t) => {
    const dir = tempDir(t);
    const folder = join(dir, 'states');
    const url = `file:${folder}`;
    await seeded(url);
    const file = join(folder, `${broken}.json`);
    truncateSync(file, 25);
    const historyFile = readdirSync(folder).find(
      (name) => name.startsWith(`${broken}.json.~`) && name !== `${broken}.json.~last`,
    );
    assert.ok(historyFile, `a history file of ${broken} exists`);
    truncateSync(join(folder, historyFile), 10);

    const result = await runCli(['verify', '--storage', url]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, new RegExp(`^corrupt +${broken} current at ${escapeRegExp(file)}\\n`, 'm'));
    assert.match(
      result.stdout,
      new RegExp(`^corrupt +${broken} revision 1 at ${escapeRegExp(join(folder, historyFile))}`, 'm'),
    );
    assert.match(result.stdout, /2 problems found; checked 3 states/);

    const json = await runCli(['verify', '--json', '--storage', url]);
    assert.equal(json.code, 1);
    const report = JSON.parse(json.stdout);
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.findings.map(
        (f: { kind: string; pluginId: string; revision: number | null; location: string }) => [
          f.kind,
          f.pluginId,
          f.revision,
          f.location,
        ],
      ),
      [
        ['corrupt', broken, null, file],
        ['corrupt', broken, 1, join(folder, historyFile)],
      ],
    );
  });

  it('a corrupt SQLite row, current and in history: exit 1, named by file, table and id', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'states.db');
    const url = `sqlite:${path}`;
    await seeded(url);
    const db = new Database(path);
    try {
      db.prepare('UPDATE plugin_states SET data = ? WHERE plugin_id = ?').run('{"cut', broken);
      db.prepare('UPDATE plugin_states_history SET data = ? WHERE plugin_id = ?').run('[1,', broken);
    } finally {
      db.close();
    }
    const json = await runCli(['verify', '--json', '--storage', url]);
    assert.equal(json.code, 1, json.stderr);
    const findings = JSON.parse(json.stdout).findings as Array<Record<string, unknown>>;
    assert.deepEqual(
      findings.map((f) => [f.kind, f.pluginId, f.revision]),
      [
        ['corrupt', broken, null],
        ['corrupt', broken, 1],
      ],
    );
    for (const finding of findings) {
      assert.match(String(finding.location), /states\.db/);
      assert.match(String(finding.message), new RegExp(broken));
    }
  });

  it('records over --max-bytes or --max-depth are over-limit findings', async (t) => {
    const url = `file:${join(tempDir(t), 'states')}`;
    await seeded(url);
    const bytes = await runCli(['verify', '--max-bytes', '500', '--json', '--storage', url]);
    assert.equal(bytes.code, 1);
    const [finding, ...rest] = JSON.parse(bytes.stdout).findings;
    assert.deepEqual(rest, []);
    assert.equal(finding.kind, 'over-limit');
    assert.equal(finding.pluginId, big);
    assert.match(finding.message, /over the limit of 500 bytes/);
    assert.match(finding.location, new RegExp(`plugin ${big} current`));

    const depth = await runCli(['verify', '--max-depth', '4', '--storage', url]);
    assert.equal(depth.code, 1);
    assert.match(
      depth.stdout,
      new RegExp(`^over-limit +${big} current .*\\n +its data nests 5 levels, over the limit of 4`, 'm'),
    );
  });

  it('list, stats, export and backup skip a corrupt record with a warning; export and backup exit 1', async (t) => {
    const dir = tempDir(t);
    const folder = join(dir, 'states');
    const url = `file:${folder}`;
    await seeded(url);
    truncateSync(join(folder, `${broken}.json`), 25);

    const list = await runCli(['list', '--json', '--storage', url]);
    assert.equal(list.code, 0, list.stderr);
    const document = JSON.parse(list.stdout);
    assert.equal(document.states.length, 2);
    assert.deepEqual(
      document.skipped.map((s: { pluginId: string; code: string }) => [s.pluginId, s.code]),
      [[broken, 'SERIALIZATION']],
    );
    const table = await runCli(['list', '--storage', url]);
    assert.match(
      table.stderr,
      new RegExp(`^warning: skipped ${broken}: .*\\n1 record could not be read; run 'plugin-state verify'`),
    );

    const exported = await runCli(['export', join(dir, 'out.json'), '--storage', url]);
    assert.equal(exported.code, 1);
    assert.match(exported.stderr, /the export is missing 1 unreadable record/);
    const backedUp = await runCli(['backup', join(dir, 'out.ndjson'), '--storage', url]);
    assert.equal(backedUp.code, 1);
    assert.match(backedUp.stderr, /the backup is missing 1 unreadable record/);

    const deleted = await runCli(['delete', broken, '--storage', url]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal((await runCli(['verify', '--storage', url])).code, 0);
    assert.equal(lines((await runCli(['list', '--storage', url])).stderr).length, 0);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
