// State contracts across real processes (test/helpers/contract-worker.ts), on file and SQLite
// storage: a migration chain 1 → 2 → 3 over process restarts, and two processes migrating the same
// state at once (exactly one migration is saved).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  openStorage,
  type PluginState,
  type PluginStateStorage,
  pluginIdFromName,
} from '../../../src/index.js';
import { Child, helperScript, runWorker } from '../../helpers/processes.js';

const CONTRACT_WORKER = helperScript('contract-worker.ts');

const backends = [
  { name: 'file', url: (dir: string) => `file:${join(dir, 'states')}` },
  { name: 'sqlite', url: (dir: string) => `sqlite:${join(dir, 'states.db')}` },
];

/** A folder for one test; storages opened by the parent are closed before it is removed. */
function workspace(t: TestContext): { dir: string; opened: PluginStateStorage[] } {
  const dir = mkdtempSync(join(tmpdir(), 'plugin-state-contract-xp-'));
  const opened: PluginStateStorage[] = [];
  t.after(async () => {
    for (const storage of opened) await storage.close?.();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, opened };
}

function worker<T>(args: string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
  return runWorker<T>(args, {
    script: CONTRACT_WORKER,
    env,
    label: `contract-worker ${args[0]}`,
    lineTimeoutMs: 60_000,
  });
}

interface LoadResult {
  received: Record<string, unknown>;
  final: Record<string, unknown>;
  stepCalls: Record<string, number>;
  migrateReports: string[];
}

interface RaceResult {
  received: unknown[];
  stepCalls: Record<string, number>;
  migrateReports: string[];
  revision: number;
}

const v1Of = (i: number) => ({ count: 10 * i, label: `plugin ${i}` });
const v2Of = (i: number) => ({ ...v1Of(i), tags: ['from-v1'] });
const bumped2Of = (i: number) => ({ ...v2Of(i), count: 10 * i + 1 });
const v3Of = (i: number) => ({
  counter: { value: 10 * i + 1 },
  title: `plugin ${i}`,
  tags: ['from-v1', 'from-v2'],
});

function shape(state: PluginState | undefined): unknown {
  return state && { data: state.data, version: state.version, revision: state.revision };
}

for (const backend of backends) {
  describe(`state contracts across processes on ${backend.name} storage`, () => {
    const ids = [1, 2, 3].map((i) => pluginIdFromName(`contracts.cross-process.${i}`));

    async function chain(t: TestContext, env: NodeJS.ProcessEnv) {
      const { dir, opened } = workspace(t);
      const url = backend.url(dir);

      // Process 1: a v1 plugin saves.
      const first = await worker<{ saved: Record<string, { revision: number; version: number }> }>(
        ['save', url, '1', JSON.stringify(Object.fromEntries(ids.map((id, i) => [id, v1Of(i)])))],
        env,
      );
      for (const id of ids) assert.deepEqual(first.saved[id], { revision: 1, version: 1 });

      // Process 2: a v2 plugin loads (1 → 2, saved as revision 2), then saves its own change (revision 3).
      const second = await worker<LoadResult>(['load', url, '2', JSON.stringify(ids), 'bump'], env);
      for (const [i, id] of ids.entries()) {
        assert.deepEqual(second.received[id], v2Of(i));
        assert.deepEqual(second.final[id], bumped2Of(i));
      }
      assert.deepEqual(second.stepCalls, { 2: ids.length });
      assert.equal(second.migrateReports.length, ids.length);

      // Process 3: a v3 plugin loads (2 → 3 only, saved as revision 4).
      const third = await worker<LoadResult>(['load', url, '3', JSON.stringify(ids)], env);
      for (const [i, id] of ids.entries()) assert.deepEqual(third.received[id], v3Of(i));
      assert.deepEqual(third.stepCalls, { 3: ids.length }, 'step 2 must not run again');
      assert.equal(third.migrateReports.length, ids.length);

      const storage = await openStorage(
        url,
        env.CONTRACT_WORKER_HISTORY === undefined ? {} : { history: Number(env.CONTRACT_WORKER_HISTORY) },
      );
      opened.push(storage);
      return storage;
    }

    it('migrates 1 → 2 → 3 over process restarts, each state before a migration kept in history', async (t) => {
      const storage = await chain(t, {});
      for (const [i, id] of ids.entries()) {
        assert.deepEqual(shape(await storage.loadState(id)), { data: v3Of(i), version: 3, revision: 4 });
        const revisions = await storage.listRevisions!(id);
        assert.deepEqual(
          revisions.map((r) => [r.revision, r.version, r.current]),
          [
            [4, 3, true],
            [3, 2, false],
            [2, 2, false],
            [1, 1, false],
          ],
        );
        // The state before each migration, as it was saved.
        assert.deepEqual(shape(await storage.loadRevision!(id, 1)), {
          data: v1Of(i),
          version: 1,
          revision: 1,
        });
        assert.deepEqual(shape(await storage.loadRevision!(id, 3)), {
          data: bumped2Of(i),
          version: 2,
          revision: 3,
        });
        // The migration's own result.
        assert.deepEqual(shape(await storage.loadRevision!(id, 2)), {
          data: v2Of(i),
          version: 2,
          revision: 2,
        });
      }
    });

    it('keeps the state before a migration even with history: 0 (until the next save)', async (t) => {
      const storage = await chain(t, { CONTRACT_WORKER_HISTORY: '0' });
      for (const [i, id] of ids.entries()) {
        assert.deepEqual(shape(await storage.loadState(id)), { data: v3Of(i), version: 3, revision: 4 });
        assert.deepEqual(
          (await storage.listRevisions!(id)).map((r) => [r.revision, r.version, r.current]),
          [
            [4, 3, true],
            [3, 2, false],
          ],
          'the state before the last migration is kept; older ones went with the saves after them',
        );
        assert.deepEqual(shape(await storage.loadRevision!(id, 3)), {
          data: bumped2Of(i),
          version: 2,
          revision: 3,
        });
        assert.equal(await storage.loadRevision!(id, 1), undefined);
      }
    });

    it('two processes loading one v1 state with a v2 plugin at once save exactly one migration', async (t) => {
      const { dir, opened } = workspace(t);
      const url = backend.url(dir);
      const storage = await openStorage(url);
      opened.push(storage);
      const rounds = [0, 25, 0, 60];
      let stepCallsSeen = 0;
      for (const [round, delayMs] of rounds.entries()) {
        const id = pluginIdFromName(`contracts.race.${round}`);
        const original = { count: round, label: `round ${round}` };
        await storage.saveState({ pluginId: id, data: original, version: 1, lastModified: new Date() });

        const children = [0, 1].map(
          (n) =>
            new Child(['race', url, '2', id, String(delayMs)], {
              script: CONTRACT_WORKER,
              label: `racer ${n} of round ${round}`,
              lineTimeoutMs: 60_000,
            }),
        );
        t.after(() => Promise.all(children.map((child) => child.kill())));
        for (const child of children) assert.equal(await child.nextLine(), 'ready');
        for (const child of children) child.send('go');
        const results = await Promise.all(children.map((child) => child.nextJson<RaceResult>()));
        await Promise.all(children.map((child) => child.finish()));

        const migrated = { ...original, tags: ['from-v1'] };
        for (const result of results) {
          assert.deepEqual(result.received, [migrated], 'both plugins end with the same migrated data');
          assert.equal(result.revision, 2);
        }
        const reports = results.flatMap((result) => result.migrateReports);
        assert.equal(
          reports.length,
          1,
          `exactly one migrate report across both processes: ${JSON.stringify(reports)}`,
        );
        const calls = results.reduce((sum, result) => sum + (result.stepCalls[2] ?? 0), 0);
        // The loser of compare-and-set may have run the step too, but never saved its result.
        assert.ok(calls >= 1 && calls <= 2, `step 2 ran ${calls} times`);
        stepCallsSeen += calls;

        assert.deepEqual(shape(await storage.loadState(id)), { data: migrated, version: 2, revision: 2 });
        assert.deepEqual(
          (await storage.listRevisions!(id)).map((r) => [r.revision, r.version, r.current]),
          [
            [2, 2, true],
            [1, 1, false],
          ],
        );
        assert.deepEqual(shape(await storage.loadRevision!(id, 1)), {
          data: original,
          version: 1,
          revision: 1,
        });
      }
      t.diagnostic(`step 2 ran ${stepCallsSeen} times over ${rounds.length} rounds (one saved per round)`);
    });
  });
}
