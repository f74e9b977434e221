// A backup from one backend restores into any other, exactly: data (tricky JSON included) and
// version of every state, and, with history, every kept revision in order.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { backup, type JsonValue, type PluginStateStorage, restore } from '../../src/index.js';
import { durableBackends } from '../helpers/backends.js';
import { tempDir } from '../helpers/temp-dir.js';
import { archiveLines, asStored, contents, recordBody, saveAll, storageAt, trickyStates } from './helpers.js';

const postgres = durableBackends.find((backend) => backend.name === 'postgres')!;

/** Backs `from` up to a new archive in `dir`, restores it into a fresh store at `url`, returns both. */
async function hop(
  t: TestContext,
  dir: string,
  from: PluginStateStorage,
  url: string,
  options: { history?: boolean } = {},
): Promise<{ archive: string; to: PluginStateStorage }> {
  const archive = join(dir, `hop-${randomUUID()}.ndjson`);
  await backup(from, archive, options);
  const to = await storageAt(t, url);
  const result = await restore(to, archive, { mode: 'replace' });
  assert.equal(result.deleted, 0);
  return { archive, to };
}

/** The archive's records without what a restore renumbers (revision) — data, version, lastModified. */
function portableRecords(archive: string): string[] {
  return archiveLines(archive)
    .slice(1, -2)
    .map((line) => {
      const { revision: _revision, ...rest } = JSON.parse(recordBody(line)) as Record<string, unknown>;
      // Compare the data's exact text too, not only its parsed value.
      return `${JSON.stringify(rest)} ${line.slice(line.indexOf('"data":'))}`;
    });
}

function assertHolds(
  actual: Map<string, { data: JsonValue; version: number }>,
  expected: Array<{ pluginId: string; data: JsonValue; version: number }>,
  where: string,
): void {
  assert.deepEqual(
    [...actual.keys()].sort(),
    expected.map((s) => s.pluginId).sort(),
    `${where}: the same ids`,
  );
  for (const state of expected) {
    const got = actual.get(state.pluginId)!;
    assert.deepEqual(got.data, asStored(state.data), `${where}: data of ${state.pluginId}`);
    assert.ok(
      !Object.is((got.data as { negativeZero: number }).negativeZero, -0),
      `${where}: -0 reads back as 0`,
    );
    assert.equal(got.version, state.version, `${where}: version of ${state.pluginId}`);
  }
}

describe('backup and restore across backends', () => {
  it('file → SQLite → file keeps every state exactly', async (t) => {
    const dir = tempDir(t);
    const states = trickyStates(12);
    const file = await storageAt(t, `file:${join(dir, 'a')}`);
    await saveAll(file, states);

    const first = await hop(t, dir, file, `sqlite:${join(dir, 'b.db')}`);
    assertHolds(await contents(first.to), states, 'SQLite');
    const second = await hop(t, dir, first.to, `file:${join(dir, 'c')}`);
    assertHolds(await contents(second.to), states, 'file again');

    const third = join(dir, 'third.ndjson');
    await backup(second.to, third);
    assert.deepEqual(
      portableRecords(first.archive),
      portableRecords(second.archive),
      'file and SQLite archives',
    );
    assert.deepEqual(portableRecords(first.archive), portableRecords(third), 'first and last archives');
  });

  it('file → memory → file keeps every state exactly', async (t) => {
    const dir = tempDir(t);
    const states = trickyStates(6);
    const file = await storageAt(t, `file:${join(dir, 'a')}`);
    await saveAll(file, states);
    const memory = await hop(t, dir, file, 'memory:');
    assertHolds(await contents(memory.to), states, 'memory');
    const back = await hop(t, dir, memory.to, `file:${join(dir, 'c')}`);
    assertHolds(await contents(back.to), states, 'file again');
    assert.deepEqual(portableRecords(memory.archive), portableRecords(back.archive));
  });

  it('file → PostgreSQL → SQLite → file keeps every state exactly', async (t) => {
    const dir = tempDir(t);
    const states = trickyStates(6);
    const file = await storageAt(t, `file:${join(dir, 'a')}`);
    await saveAll(file, states);
    const pg = await hop(t, dir, file, await postgres.url(dir, t));
    assertHolds(await contents(pg.to), states, 'PostgreSQL');
    const sqlite = await hop(t, dir, pg.to, `sqlite:${join(dir, 'b.db')}`);
    assertHolds(await contents(sqlite.to), states, 'SQLite');
    const back = await hop(t, dir, sqlite.to, `file:${join(dir, 'c')}`);
    assertHolds(await contents(back.to), states, 'file again');
    assert.deepEqual(portableRecords(pg.archive), portableRecords(back.archive));
  });

  it('lastModified survives the round trip to the millisecond', async (t) => {
    const dir = tempDir(t);
    const file = await storageAt(t, `file:${join(dir, 'a')}`);
    const when = new Date('2021-03-04T05:06:07.089Z');
    const pluginId = randomUUID();
    await file.saveState({ pluginId, data: 1, lastModified: when });
    const { to } = await hop(t, dir, file, `sqlite:${join(dir, 'b.db')}`);
    assert.equal((await to.loadState(pluginId))?.lastModified.toISOString(), when.toISOString());
  });

  for (const [from, to] of [
    ['memory', 'sqlite'],
    ['file', 'sqlite'],
    ['sqlite', 'file'],
    ['sqlite', 'memory'],
    ['file', 'postgres'],
    ['postgres', 'file'],
  ] as const) {
    it(`history: ${from} → ${to} restores kept revisions in order, then the current one`, async (t) => {
      const dir = tempDir(t);
      const url = async (kind: string, name: string) =>
        kind === 'memory'
          ? 'memory:'
          : kind === 'file'
            ? `file:${join(dir, name)}`
            : kind === 'sqlite'
              ? `sqlite:${join(dir, `${name}.db`)}`
              : postgres.url(dir, t);
      const source = await storageAt(t, await url(from, 'a'));
      const ids = [randomUUID(), randomUUID()];
      for (const [n, pluginId] of ids.entries()) {
        for (let i = 1; i <= 4 + n; i++) {
          await source.saveState({
            pluginId,
            data: { step: i, text: 'é\u0000👍' },
            version: i,
            lastModified: new Date(),
          });
        }
      }
      const archive = join(dir, 'history.ndjson');
      const written = await backup(source, archive, { history: true });
      assert.equal(written.states, 2);
      assert.equal(written.records, 4 + 5);

      const target = await storageAt(t, await url(to, 'b'));
      const result = await restore(target, archive, { mode: 'merge' });
      assert.equal(result.restored, 2);
      assert.equal(result.revisions, 3 + 4);
      for (const [n, pluginId] of ids.entries()) {
        const revisions = await target.listRevisions!(pluginId);
        const kept = [];
        for (const info of [...revisions].reverse())
          kept.push(await target.loadRevision!(pluginId, info.revision));
        assert.deepEqual(
          kept.map((state) => [state?.data, state?.version]),
          Array.from({ length: 4 + n }, (_, i) => [{ step: i + 1, text: 'é\u0000👍' }, i + 1]),
          `the revisions of ${pluginId}, oldest first`,
        );
        assert.equal(revisions[0]!.current, true);
      }

      const again = join(dir, 'again.ndjson');
      await backup(target, again, { history: true });
      assert.deepEqual(
        portableRecords(again),
        portableRecords(archive),
        'the same records, history included',
      );
    });
  }
});
