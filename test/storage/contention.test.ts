import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pluginIdFromName } from '../../src/index.js';
import { openStorage } from '../../src/storage/open.js';
import { durableBackends } from '../helpers/backends.js';
import { Child, CONTENTION_WORKER } from '../helpers/processes.js';
import { tempDir } from '../helpers/temp-dir.js';

const PROCESSES = 8;
const INCREMENTS = 200;

describe(`contention: ${PROCESSES} processes × ${INCREMENTS} compare-and-set increments of one counter`, () => {
  for (const backend of durableBackends) {
    it(`${backend.name}: the counter equals the acknowledged increments; every lost race is a ConflictError`, async (t) => {
      const url = await backend.url(tempDir(t), t);
      const id = pluginIdFromName(`test.contention.${backend.name}`);
      const children = Array.from(
        { length: PROCESSES },
        () => new Child([url, id, String(INCREMENTS)], { script: CONTENTION_WORKER }),
      );
      t.after(() => Promise.all(children.map((child) => child.kill())));
      for (const child of children) assert.equal(await child.nextLine(60_000), 'ready');
      for (const child of children) child.send('go');
      const results = await Promise.all(
        children.map(
          async (child) => JSON.parse(await child.nextLine(300_000)) as { acked: number; conflicts: number },
        ),
      );
      const acked = results.reduce((sum, r) => sum + r.acked, 0);
      const conflicts = results.reduce((sum, r) => sum + r.conflicts, 0);
      for (const child of children) assert.deepEqual(await child.exited, { code: 0, signal: null });

      const storage = await openStorage(url);
      t.after(() => storage.close?.());
      const final = await storage.loadState(id);
      assert.equal(acked, PROCESSES * INCREMENTS);
      assert.ok(final, 'the counter is stored');
      assert.equal((final.data as { count: number }).count, acked, 'no acknowledged increment was lost');
      assert.equal(final?.revision, acked, 'one revision per acknowledged save, none skipped');
      t.diagnostic(
        `${backend.name}: ${acked} increments acknowledged, ${conflicts} races lost as ConflictError`,
      );
      assert.ok(conflicts > 0, 'the processes really raced');
    });
  }
});
