// Compare-and-set on one row from several processes, each with its own PostgresStateStorage.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { PostgresFixture } from '../../helpers/postgres-server.js';
import { Child, POSTGRES_WORKER } from '../../helpers/processes.js';

const fixture = new PostgresFixture();
after(() => fixture.cleanup());

describe(`PostgresStateStorage across processes on ${fixture.title}`, () => {
  it('loses no increment when four processes compare-and-set one id 50 times each', async (t) => {
    const server = await fixture.server();
    const table = 'counter';
    const id = randomUUID();
    // Created here first, so the children measure contention on the row, not on creating the table.
    const setup = await fixture.storage({}, table);
    await setup.open();
    const perProcess = 50;
    const children = Array.from(
      { length: 4 },
      () =>
        new Child(['increment', server.url, fixture.schema, table, id, String(perProcess)], {
          script: POSTGRES_WORKER,
          lineTimeoutMs: 30_000,
        }),
    );
    t.after(() => Promise.all(children.map((child) => child.kill())));
    for (const child of children) assert.equal(await child.nextLine(), 'ready');
    for (const child of children) child.send('go'); // together, so their cycles really overlap
    const results = await Promise.all(
      children.map((child) =>
        child.nextJson<{ acked: number; conflicts: number; revisions: number[] }>(60_000),
      ),
    );
    await Promise.all(children.map((child) => child.finish()));

    const total = perProcess * children.length;
    for (const result of results) assert.equal(result.acked, perProcess);
    // Every acknowledged save got its own revision: none overwrote another process's save.
    assert.deepEqual(
      results.flatMap((result) => result.revisions).sort((a, b) => a - b),
      Array.from({ length: total }, (_, i) => i + 1),
    );
    const conflicts = results.reduce((sum, result) => sum + result.conflicts, 0);
    assert.ok(conflicts > 0, 'overlapping compare-and-set cycles must have conflicted at least once');
    t.diagnostic(`${total} increments acknowledged, ${conflicts} conflicts retried`);

    const final = await setup.loadState(id);
    assert.equal((final?.data as { count?: number } | undefined)?.count, total);
    assert.equal(final?.revision, total);
    await setup.close();
  });
});
