// The UI's JSON API: paging, search and sort on the server, compare-and-set saves with 409 and the
// stored state, delete and its undo through history, revisions, export and backup.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { MemoryStateStorage, restore } from '../../src/index.js';
import { api, idOf, request, type Started, startUi } from './helpers.js';

/** 120 states: id n holds n × 10 characters, names on the even ones, revision 1 + (n % 3). */
async function seeded(t: Parameters<typeof startUi>[0]): Promise<Started> {
  const names = new Map<string, string>();
  for (let n = 0; n < 120; n += 2) names.set(idOf(n), `plugin-${String(n).padStart(3, '0')}`);
  const started = await startUi(t, { pluginNames: names });
  for (let n = 0; n < 120; n++) {
    for (let r = 0; r <= n % 3; r++) {
      await started.storage.saveState({
        pluginId: idOf(n),
        data: { text: 'x'.repeat(n * 10), r },
        lastModified: new Date(Date.UTC(2026, 0, 1, 0, 0, n)),
      });
    }
  }
  return started;
}

describe('web UI API', () => {
  it('lists a page at a time, with the total, sorted and searched on the server', async (t) => {
    const started = await seeded(t);
    const first = (await api(started, '/api/states?limit=25')).json();
    assert.equal(first.total, 120);
    assert.equal(first.items.length, 25);
    assert.deepEqual(Object.keys(first.items[0]).sort(), [
      'lastModified',
      'name',
      'pluginId',
      'revision',
      'size',
      'version',
    ]);

    const third = (await api(started, '/api/states?sort=pluginId&order=asc&offset=50&limit=25')).json();
    assert.deepEqual(
      third.items.map((row: { pluginId: string }) => row.pluginId),
      Array.from({ length: 25 }, (_, i) => idOf(50 + i)),
    );
    const last = (await api(started, '/api/states?sort=pluginId&order=asc&offset=100&limit=50')).json();
    assert.equal(last.items.length, 20);

    const bySize = (await api(started, '/api/states?sort=size&order=desc&limit=3')).json();
    assert.deepEqual(
      bySize.items.map((row: { size: number }) => row.size),
      [
        JSON.stringify({ text: 'x'.repeat(1190), r: 2 }).length,
        JSON.stringify({ text: 'x'.repeat(1180), r: 1 }).length,
        JSON.stringify({ text: 'x'.repeat(1170), r: 0 }).length,
      ],
    );
    const byRevision = (await api(started, '/api/states?sort=revision&order=desc&limit=41')).json();
    assert.deepEqual(
      byRevision.items.map((row: { revision: number }) => row.revision),
      [...Array(40).fill(3), 2],
    );
    const newest = (await api(started, '/api/states?limit=1')).json();
    assert.equal(newest.items[0].pluginId, idOf(119), 'last modified, newest first, by default');

    const byName = (await api(started, '/api/states?q=PLUGIN-01&sort=name&order=asc')).json();
    assert.deepEqual(
      byName.items.map((row: { name: string }) => row.name),
      ['plugin-010', 'plugin-012', 'plugin-014', 'plugin-016', 'plugin-018'],
    );
    const byId = (await api(started, `/api/states?q=${idOf(7).toUpperCase()}`)).json();
    assert.equal(byId.total, 1);
    assert.equal(byId.items[0].name, null);
    assert.equal((await api(started, '/api/states?q=nothing-like-this')).json().total, 0);
  });

  it('refuses bad list parameters with 400', async (t) => {
    const started = await startUi(t);
    for (const query of [
      'sort=data',
      'order=up',
      'limit=0',
      'limit=501',
      'offset=-1',
      'offset=1e3',
      'limit=ten',
    ]) {
      const reply = await api(started, `/api/states?${query}`);
      assert.equal(reply.status, 400, query);
      assert.equal(reply.json().error.code, 'BAD_QUERY');
    }
  });

  it('gets one state, or 404 (saying which revision a deleted one left in history)', async (t) => {
    const started = await seeded(t);
    const one = (await api(started, `/api/states/${idOf(4).toUpperCase()}`)).json();
    assert.deepEqual(
      { ...one, lastModified: undefined },
      {
        pluginId: idOf(4),
        name: 'plugin-004',
        data: { text: 'x'.repeat(40), r: 1 },
        version: 1,
        revision: 2,
        size: JSON.stringify({ text: 'x'.repeat(40), r: 1 }).length,
        lastModified: undefined,
      },
    );
    const never = await api(started, `/api/states/${idOf(999)}`);
    assert.equal(never.status, 404);
    assert.equal(never.json().deletedRevision, null);
    assert.equal((await api(started, '/api/states/not-a-uuid')).status, 400);
    assert.equal((await api(started, '/api/nothing')).status, 404);
    assert.equal((await api(started, '/api/states', { method: 'PATCH' })).status, 405);
  });

  it('saves with compare-and-set: 409 with the stored state on a conflict, nothing overwritten', async (t) => {
    const started = await seeded(t);
    const id = idOf(5); // revision 3
    await started.storage.saveState({
      pluginId: id,
      data: { at: 'v3' },
      lastModified: new Date(),
      version: 3,
    });
    const saved = await api(started, `/api/states/${id}`, {
      method: 'PUT',
      body: { data: { mine: true }, expectedRevision: 4 },
    });
    assert.equal(saved.status, 200);
    assert.equal(saved.json().revision, 5);
    assert.equal(saved.json().version, 3, 'the stored version is kept when none is sent');

    const stale = await api(started, `/api/states/${id}`, {
      method: 'PUT',
      body: { data: { stale: true }, expectedRevision: 4 },
    });
    assert.equal(stale.status, 409);
    const body = stale.json();
    assert.equal(body.error.code, 'CONFLICT');
    assert.equal(body.error.storedRevision, 5);
    assert.equal(body.current.revision, 5);
    assert.deepEqual(body.current.data, { mine: true });
    assert.deepEqual((await started.storage.loadState(id))?.data, { mine: true });

    const create = await api(started, `/api/states/${idOf(500)}`, {
      method: 'PUT',
      body: { data: [1], expectedRevision: 0 },
    });
    assert.equal(create.status, 200);
    assert.equal(create.json().revision, 1);
    const createAgain = await api(started, `/api/states/${idOf(500)}`, {
      method: 'PUT',
      body: { data: [2], expectedRevision: 0 },
    });
    assert.equal(createAgain.status, 409);
  });

  it('refuses a save without expectedRevision, with bad JSON, or with data the library refuses', async (t) => {
    const started = await seeded(t);
    const path = `/api/states/${idOf(1)}`;
    const blind = await api(started, path, { method: 'PUT', body: { data: { x: 1 } } });
    assert.equal(blind.status, 400);
    assert.match(blind.json().error.message, /expectedRevision/);
    assert.equal(
      (await api(started, path, { method: 'PUT', body: '{"data": ' })).json().error.code,
      'BAD_JSON',
    );
    const text = await api(started, path, {
      method: 'PUT',
      body: '{}',
      headers: { 'Content-Type': 'text/plain' },
    });
    assert.equal(text.status, 415);
    const proto = await api(started, path, {
      method: 'PUT',
      body: '{"data":{"__proto__":{"polluted":1}},"expectedRevision":2}',
    });
    assert.equal(proto.status, 400);
    assert.equal(proto.json().error.code, 'VALIDATION');
    assert.ok(Array.isArray(proto.json().error.issues));
    const version = await api(started, path, {
      method: 'PUT',
      body: { data: 1, version: 0, expectedRevision: 2 },
    });
    assert.equal(version.status, 400);
    assert.equal((await started.storage.loadState(idOf(1)))?.revision, 2, 'nothing was written');
  });

  it('deletes only the revision shown, and history undoes it', async (t) => {
    const started = await seeded(t);
    const id = idOf(8); // revision 3
    const stale = await api(started, `/api/states/${id}?expectedRevision=2`, { method: 'DELETE' });
    assert.equal(stale.status, 409);
    assert.equal(stale.json().current.revision, 3);
    assert.ok(await started.storage.loadState(id));
    assert.equal((await api(started, `/api/states/${id}`, { method: 'DELETE' })).status, 400);

    const deleted = await api(started, `/api/states/${id}?expectedRevision=3`, { method: 'DELETE' });
    assert.deepEqual(deleted.json(), { deleted: true, revision: 3 });
    const gone = await api(started, `/api/states/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.json().deletedRevision, 3);
    assert.equal(gone.json().name, 'plugin-008', 'the page can still name what it offers to restore');
    assert.equal((await api(started, '/api/states')).json().total, 119);
    assert.equal(
      (await api(started, `/api/states/${id}?expectedRevision=3`, { method: 'DELETE' })).status,
      404,
    );

    const undo = await api(started, `/api/states/${id}/revisions/3/restore`, {
      method: 'POST',
      body: { expectedRevision: 0 },
    });
    assert.equal(undo.status, 200);
    assert.equal(undo.json().revision, 4);
    assert.deepEqual(undo.json().data, { text: 'x'.repeat(80), r: 2 });
    assert.equal((await api(started, '/api/states')).json().total, 120);
  });

  it('lists, reads and restores revisions, with compare-and-set', async (t) => {
    const started = await seeded(t);
    const id = idOf(2); // revisions 1..3
    const list = (await api(started, `/api/states/${id}/revisions`)).json().revisions;
    assert.deepEqual(
      list.map((info: { revision: number; current: boolean }) => [info.revision, info.current]),
      [
        [3, true],
        [2, false],
        [1, false],
      ],
    );
    assert.equal(typeof list[0].lastModified, 'string');
    const one = (await api(started, `/api/states/${id}/revisions/1`)).json();
    assert.deepEqual(one.data, { text: 'x'.repeat(20), r: 0 });
    assert.equal((await api(started, `/api/states/${id}/revisions/9`)).status, 404);
    assert.equal((await api(started, `/api/states/${id}/revisions/zero`)).status, 400);

    const stale = await api(started, `/api/states/${id}/revisions/1/restore`, {
      method: 'POST',
      body: { expectedRevision: 2 },
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.json().current.revision, 3);
    const restored = await api(started, `/api/states/${id}/revisions/1/restore`, {
      method: 'POST',
      body: { expectedRevision: 3 },
    });
    assert.equal(restored.status, 200);
    assert.equal(restored.json().revision, 4);
    assert.deepEqual((await started.storage.loadState(id))?.data, { text: 'x'.repeat(20), r: 0 });
    const missing = await api(started, `/api/states/${id}/revisions/99/restore`, {
      method: 'POST',
      body: { expectedRevision: 4 },
    });
    assert.equal(missing.status, 400, 'a revision that is not kept is a ValidationError');
  });

  it('exports every state as one JSON document, and downloads a backup that restore verifies', async (t) => {
    const started = await seeded(t);
    const exported = await api(started, '/api/export');
    assert.match(exported.headers['content-disposition']!, /^attachment; filename="plugin-states-.*\.json"$/);
    const document = exported.json();
    assert.equal(document.format, 'plugin-state-export');
    assert.equal(document.formatVersion, 1);
    assert.equal(document.states.length, 120);
    assert.deepEqual(document.states[3], {
      pluginId: idOf(3),
      version: 1,
      revision: 1,
      lastModified: new Date(Date.UTC(2026, 0, 1, 0, 0, 3)).toISOString(),
      data: { text: 'x'.repeat(30), r: 0 },
    });

    const archive = await api(started, '/api/backup?history=1');
    assert.match(archive.headers['content-disposition']!, /\.ndjson"$/);
    const target = new MemoryStateStorage();
    const result = await restore(target, Readable.from([archive.text]), { mode: 'merge' });
    assert.equal(result.restored, 120);
    assert.deepEqual((await target.loadState(idOf(5)))?.data, { text: 'x'.repeat(50), r: 2 });
    assert.ok(result.revisions > 0, 'history is in the archive');
  });

  it('answers the info the page shows', async (t) => {
    const started = await startUi(t);
    assert.deepEqual((await api(started, '/api/info')).json(), {
      storage: 'MemoryStateStorage',
      history: true,
    });
  });

  it('serves its page and assets from the built package (plugin-state/ui in dist/) too', async (t) => {
    const built = new URL('../../dist/ui/assets/index.html', import.meta.url);
    assert.ok(existsSync(built), 'dist/ui/assets is missing: run `npm run build` (npm test builds first)');
    const { startUiServer } = await import('plugin-state/ui');
    const ui = await startUiServer({ storage: new MemoryStateStorage() });
    t.after(() => ui.close());
    const headers = { 'X-Plugin-State-Token': ui.token };
    const page = await request(ui.port, '/', { headers });
    assert.equal(page.status, 200);
    assert.ok(page.text.includes(ui.token));
    for (const asset of [
      '/assets/app.css',
      '/assets/js/app.js',
      '/assets/js/tree.js',
      '/assets/favicon.svg',
    ]) {
      assert.equal((await request(ui.port, asset, { headers })).status, 200, asset);
    }
  });
});
