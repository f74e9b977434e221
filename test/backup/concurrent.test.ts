// A backup taken while states are being saved — by other processes and by this one — holds every
// state that existed when it started, each at a revision it really had, never torn.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { backup, ConflictError, type PluginStateStorage } from '../../src/index.js';
import { Child } from '../helpers/processes.js';
import { tempDir } from '../helpers/temp-dir.js';
import { archiveLines, recordBody, sha256, storageAt } from './helpers.js';

const PAD = 'p'.repeat(3000);

interface Record {
  pluginId: string;
  revision: number;
  current: boolean;
  data: { n?: number; i?: number; pad?: string; filler?: string };
}

/**
 * Saves `{ n: revision, pad }` to each id over and over, with compare-and-set so that `n` is always
 * the revision it is saved as, until `stop()`; new ids appear while it runs.
 */
function writer(
  storage: PluginStateStorage,
  ids: string[],
  pauseMs: number,
): { stop: () => Promise<number> } {
  let running = true;
  let saves = 0;
  const loop = async (pluginId: string) => {
    for (let n = 1; running; n++) {
      try {
        await storage.saveState(
          { pluginId, data: { n, pad: PAD }, lastModified: new Date() },
          { expectedRevision: n - 1 },
        );
        saves++;
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        n = error.storedRevision;
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  };
  const loops = ids.map(loop);
  const late = (async () => {
    for (let i = 0; i < 4 && running; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5 * pauseMs));
      loops.push(loop(randomUUID()));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await late;
      await Promise.all(loops);
      return saves;
    },
  };
}

/** Checks an archive file: every checksum, and every record is one real revision of its state. */
function checkArchive(path: string, initial: string[], loopIds: string[]): Record[] {
  const lines = archiveLines(path);
  assert.equal(lines.at(-1), '');
  const records = lines.slice(1, -2).map((line) => {
    assert.equal(JSON.parse(line).sha256, sha256(recordBody(line)), 'its checksum');
    return JSON.parse(recordBody(line)) as Record;
  });
  for (const record of records) {
    const where = `${record.pluginId} revision ${record.revision}`;
    if (loopIds.includes(record.pluginId)) {
      // state-worker's save-loop saves { i, filler } with i = revision - 1 on a fresh id.
      assert.equal(record.data.i, record.revision - 1, where);
      assert.equal(record.data.filler, 'x'.repeat(4096), where);
    } else {
      assert.equal(record.data.n, record.revision, where);
      assert.equal(record.data.pad, PAD, where);
    }
  }
  const current = new Set(records.filter((r) => r.current).map((r) => r.pluginId));
  for (const pluginId of initial)
    assert.ok(current.has(pluginId), `${pluginId}, stored before the backup, is in it`);
  return records;
}

/** Children saving one state each as fast as they can; `kill` ends them. */
async function startLoops(
  t: TestContext,
  dir: string,
  count: number,
): Promise<{ ids: string[]; kill: () => Promise<void> }> {
  const ids = Array.from({ length: count }, () => randomUUID());
  const children: Child[] = [];
  for (const pluginId of ids) {
    const child = new Child(['save-loop', dir, pluginId]);
    children.push(child);
    t.after(() => child.kill());
    await child.nextJson(); // its first save is acknowledged
  }
  return { ids, kill: async () => void (await Promise.all(children.map((child) => child.kill()))) };
}

describe('backup while states are being saved', () => {
  it('file storage, saved by other processes and this one: every record is a real revision', async (t) => {
    const dir = join(tempDir(t), 'states');
    const storage = await storageAt(t, `file:${dir}`);
    // A file save fsyncs synchronously, so this process's own writers pause between saves, or they
    // would hold the event loop (and the backup) most of the time.
    const mine = Array.from({ length: 4 }, () => randomUUID());
    const saving = writer(storage, mine, 20);
    const loops = await startLoops(t, dir, 3);
    const backupStore = await storageAt(t, `file:${dir}`); // another instance, as a backup tool would be

    let records = 0;
    const round = async (name: string, history: boolean) => {
      const path = join(dir, '..', `${name}.ndjson`);
      await backup(backupStore, path, { history });
      records += checkArchive(path, [...mine, ...loops.ids], loops.ids).length;
    };
    // Current states only while other processes save in a tight loop: the file backend's
    // listRevisions waits for the state's lock, which a process saving it without a pause can hold
    // off past lockTimeoutMs on a loaded machine.
    for (let i = 0; i < 4; i++) await round(`current-${i}`, false);
    await loops.kill();
    for (let i = 0; i < 3; i++) await round(`history-${i}`, true);
    const saves = await saving.stop();
    t.diagnostic(`${records} records checked over 7 backups; ${saves} saves in this process meanwhile`);
    assert.ok(saves > 0);
  });

  for (const kind of ['sqlite', 'memory'] as const) {
    it(`${kind} storage, saved by this process on the same instance`, async (t) => {
      const dir = tempDir(t);
      const storage = await storageAt(t, kind === 'memory' ? 'memory:' : `sqlite:${join(dir, 'states.db')}`);
      const mine = Array.from({ length: 8 }, () => randomUUID());
      for (const pluginId of mine) {
        await storage.saveState({ pluginId, data: { n: 1, pad: PAD }, lastModified: new Date() });
      }
      const saving = writer(storage, [], 2);
      // The writer's loops start at revision 1 of new ids; the first 8 ids go on from revision 1.
      const more = mine.map(async (pluginId) => {
        for (let n = 2; n < 40; n++) {
          await storage.saveState(
            { pluginId, data: { n, pad: PAD }, lastModified: new Date() },
            { expectedRevision: n - 1 },
          );
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      });
      for (let round = 0; round < 6; round++) {
        const path = join(dir, `round-${round}.ndjson`);
        await backup(storage, path, { history: round % 2 === 0 });
        checkArchive(path, mine, []);
      }
      await Promise.all(more);
      await saving.stop();
    });
  }
});
