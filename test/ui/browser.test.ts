// The web UI end to end in a real Chromium: what an operator does (list, open, edit, conflict,
// history diff, restore, delete, undo, downloads), what an attacker tries (no token, another
// origin, a rebinding host name, HTML inside a state), and how fast 10,000 states list.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  FileSystemStateStorage,
  MemoryStateStorage,
  openStorage,
  type PluginStateStorage,
} from '../../src/index.js';
import { startUiServer, type UiServerOptions } from '../../src/ui/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { CHROMIUM, launchChromium } from './chromium.js';
import { idOf } from './helpers.js';

let launched: Promise<Browser> | undefined;

/**
 * The one browser of this file, launched by the first test that needs it; where Chromium is
 * missing, every test fails with how to install it (never a silent skip).
 */
function browser(): Promise<Browser> {
  // Chromium resolves evil.example to this machine, as a DNS-rebinding attacker would arrange.
  launched ??= launchChromium(CHROMIUM, ['--host-resolver-rules=MAP evil.example 127.0.0.1']);
  return launched;
}
after(async () => (await launched?.catch(() => undefined))?.close());

interface Watched {
  page: Page;
  /** Every alert/confirm/prompt the page opened: none may fire. */
  dialogs: string[];
  /** Uncaught exceptions in the page. */
  errors: string[];
}

async function openPage(t: TestContext): Promise<Watched> {
  const context = await (await browser()).newContext({
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
  });
  t.after(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const watched: Watched = { page, dialogs: [], errors: [] };
  page.on('dialog', (dialog) => {
    watched.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => watched.errors.push(error.message));
  return watched;
}

async function serve(t: TestContext, options: UiServerOptions) {
  const ui = await startUiServer({ log: () => undefined, ...options });
  t.after(() => ui.close());
  return { ui, base: `http://127.0.0.1:${ui.port}` };
}

const rows = (page: Page) => page.locator('table.states tbody tr');

async function rowCount(page: Page, count: number): Promise<void> {
  // Runs in the page (the tests' TypeScript has no DOM types, and the page's CSP forbids string eval).
  await page.waitForFunction((n) => {
    const { document } = globalThis as unknown as {
      document: { querySelectorAll(selector: string): ArrayLike<unknown> };
    };
    return document.querySelectorAll('table.states tbody tr').length === n;
  }, count);
}

describe('web UI in Chromium', { timeout: 90_000 }, () => {
  it('fails with how to install Chromium when it is missing', async () => {
    await assert.rejects(launchChromium('/nonexistent/chromium'), /apt-get install -y chromium/);
  });

  it('list → open → edit → conflict → history diff → restore → delete → undo', async (t) => {
    const dir = tempDir(t);
    const storage = await openStorage(`file:${dir}`);
    const elsewhere = new FileSystemStateStorage(dir); // another process of the host, say
    t.after(async () => {
      await storage.close?.();
      await elsewhere.close();
    });
    const theme = idOf(0xa1);
    const names = new Map([
      [theme, 'theme'],
      [idOf(0xa2), 'launch-counter'],
      [idOf(0xa3), 'recent-files'],
    ]);
    await storage.saveState({
      pluginId: theme,
      data: { theme: 'light', fontSize: 14 },
      lastModified: new Date(),
    });
    await storage.saveState({ pluginId: idOf(0xa2), data: { launches: 7 }, lastModified: new Date() });
    await storage.saveState({
      pluginId: idOf(0xa3),
      data: { files: ['notes.md'] },
      lastModified: new Date(),
    });
    const { ui } = await serve(t, { storage, pluginNames: names });
    const { page, dialogs, errors } = await openPage(t);

    // The list, searched.
    await page.goto(ui.url);
    await rowCount(page, 3);
    assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
    await page.getByRole('searchbox', { name: 'Search states' }).fill('them');
    await rowCount(page, 1);
    assert.match((await rows(page).first().textContent()) ?? '', /theme/);

    // One state: tree and raw view.
    await rows(page).first().click();
    await page.locator('.tree').waitFor();
    assert.match((await page.locator('.tree').textContent()) ?? '', /theme: "light"/);
    await page.getByRole('button', { name: 'Raw JSON' }).click();
    assert.equal(
      await page.locator('pre.raw').textContent(),
      JSON.stringify({ theme: 'light', fontSize: 14 }, null, 2),
    );

    // Edit: invalid JSON cannot be saved; valid JSON is saved with compare-and-set.
    await page.getByRole('link', { name: 'Edit', exact: true }).first().click();
    const editor = page.getByRole('textbox', { name: 'State data as JSON' });
    await editor.fill('{"theme": "dark",');
    await page.locator('.validity.bad').waitFor();
    assert.equal(await page.locator('[data-save]').isDisabled(), true);
    await editor.fill('{"theme": "dark", "fontSize": 16}');
    await page.locator('.validity.ok').waitFor();
    await page.locator('[data-save]').click();
    await page.locator('.state-view .tree').waitFor();
    assert.deepEqual(await storage.loadState(theme).then((s) => [s?.revision, s?.data]), [
      2,
      { theme: 'dark', fontSize: 16 },
    ]);

    // A conflicting edit: the state changes through the library while the editor is open.
    await page.getByRole('link', { name: 'Edit', exact: true }).first().click();
    await editor.fill('{"theme": "solarized", "fontSize": 16}');
    await elsewhere.saveState(
      { pluginId: theme, data: { theme: 'high-contrast', fontSize: 18 }, lastModified: new Date() },
      { expectedRevision: 2 },
    );
    await page.locator('[data-save]').click();
    const conflict = page.locator('.alert.conflict');
    await conflict.waitFor();
    const conflictText = (await conflict.textContent()) ?? '';
    assert.match(conflictText, /Conflict: your edit was not saved/);
    assert.match(conflictText, /You started from revision 2; revision 3 is stored now/);
    assert.match(conflictText, /"high-contrast"/, 'the newer value is shown');
    assert.match(
      await conflict
        .locator('.diff tr.add')
        .allTextContents()
        .then((l) => l.join('\n')),
      /solarized/,
    );
    assert.deepEqual(
      (await storage.loadState(theme))?.data,
      { theme: 'high-contrast', fontSize: 18 },
      'not overwritten',
    );
    await page.getByRole('button', { name: 'Discard my edit, show revision 3' }).click();
    await page.locator('.state-view .tree').waitFor();
    assert.match((await page.locator('.tree').textContent()) ?? '', /high-contrast/);

    // History: a diff between any two revisions.
    await page.getByRole('link', { name: 'History' }).click();
    await page.locator('table.revisions tbody tr').nth(2).waitFor();
    await page.locator('.diff tr.add').first().waitFor();
    assert.match((await page.locator('.diff tr.del').allTextContents()).join('\n'), /"dark"/);
    assert.match((await page.locator('.diff tr.add').allTextContents()).join('\n'), /"high-contrast"/);
    await page.getByRole('radio', { name: 'Compare revision 1 as the older side' }).check();
    await page.getByRole('heading', { name: 'Revision 1 → revision 3' }).waitFor();
    assert.match((await page.locator('.diff tr.del').allTextContents()).join('\n'), /"light"/);

    // Restore revision 1 (a new revision 4), after a confirmation.
    await page.locator('[data-restore="1"]').click();
    await page.locator('dialog[open] [data-confirm]').click();
    await page.locator('.state-view .tree').waitFor();
    assert.deepEqual(await storage.loadState(theme).then((s) => [s?.revision, s?.data]), [
      4,
      { theme: 'light', fontSize: 14 },
    ]);

    // Delete after a confirmation, then undo it from history.
    await page.getByRole('button', { name: 'Delete…' }).click();
    await page.locator('dialog[open]').getByText('History keeps this revision').waitFor();
    await page.locator('dialog[open] [data-confirm]').click();
    await page.getByText('This state is deleted.').waitFor();
    assert.equal(await storage.loadState(theme), undefined);
    await page.locator('[data-undo]').click();
    await page.locator('.state-view .tree').waitFor();
    assert.deepEqual(await storage.loadState(theme).then((s) => [s?.revision, s?.data]), [
      5,
      { theme: 'light', fontSize: 14 },
    ]);

    // Downloads: the export and the backup archive.
    await page.goto(`${ui.url.slice(0, ui.url.indexOf('?'))}#/`);
    const [exported] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-export]').click(),
    ]);
    const document = JSON.parse(readFileSync((await exported.path())!, 'utf8'));
    assert.equal(document.states.length, 3);
    const [archive] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-backup]').click(),
    ]);
    assert.match(readFileSync((await archive.path())!, 'utf8').split('\n')[0]!, /plugin-state/);

    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
  });

  it('renders HTML inside a state as inert text everywhere', async (t) => {
    const storage = new MemoryStateStorage();
    const id = idOf(0xbad);
    const payload = '<img src=x onerror=alert(1)>';
    await storage.saveState({
      pluginId: id,
      data: {
        html: payload,
        '<img src=x onerror=alert(2)>': ['<script>alert(3)</script>'],
        deep: { a: '"><svg onload=alert(4)>' },
      },
      lastModified: new Date(),
    });
    await storage.saveState({
      pluginId: id,
      data: { html: `${payload}!`, deep: { a: { b: { c: { d: '<svg onload=alert(6)>' } } } } },
      lastModified: new Date(),
    });
    const { ui } = await serve(t, { storage, pluginNames: new Map([[id, '<img src=x onerror=alert(5)>']]) });
    const { page, dialogs, errors } = await openPage(t);
    const assertInert = async (where: string) => {
      await page.waitForTimeout(100); // time for an injected handler to fire, were there one
      assert.equal(await page.locator('img[src="x"], main svg, main script, main iframe').count(), 0, where);
      assert.deepEqual(dialogs, [], where);
    };

    await page.goto(ui.url);
    await page.getByText('<img src=x onerror=alert(5)>').waitFor(); // the plugin name, as text
    await assertInert('list');
    await rows(page).first().click();
    await page.locator('.tree').waitFor();
    await page.getByRole('button', { name: 'Expand all' }).click();
    const tree = (await page.locator('.tree').textContent()) ?? '';
    assert.ok(tree.includes(`"${payload}!"`), tree);
    assert.ok(tree.includes('d: "<svg onload=alert(6)>"'), `Expand all opens every level: ${tree}`);
    await assertInert('state');
    await page.goto(`${page.url().split('#')[0]}#/state/${id}/history`);
    await page.locator('.diff tr.del').first().waitFor();
    assert.ok((await page.locator('.diff').textContent())?.includes('<script>alert(3)</script>'));
    await assertInert('history');
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    assert.ok((await page.getByRole('textbox').inputValue()).includes(payload));
    await assertInert('editor');
    assert.deepEqual(errors, []);
  });

  it('shows a 401 page without the token, or with a wrong one', async (t) => {
    const { base } = await serve(t, { storage: new MemoryStateStorage() });
    const { page } = await openPage(t);
    for (const url of [`${base}/`, `${base}/?token=wrong-token-wrong-token`, `${base}/api/states`]) {
      const response = await page.goto(url);
      assert.equal(response?.status(), 401, url);
      assert.match((await page.textContent('body')) ?? '', /401 Unauthorized|UNAUTHORIZED/);
      assert.equal(await page.locator('table.states').count(), 0);
    }
  });

  it('refuses a change another site makes the browser send, and a rebinding host name', async (t) => {
    const storage = new MemoryStateStorage();
    await storage.saveState({ pluginId: idOf(1), data: { safe: true }, lastModified: new Date() });
    const { ui } = await serve(t, { storage });
    const target = `http://127.0.0.1:${ui.port}/api/states/${idOf(1)}`;
    // Another site: a page on another origin that tries every way to send a change.
    const evil = createServer((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'text/html' });
      response.end(`<!doctype html><body><script>
        const body = JSON.stringify({ data: { pwned: true }, expectedRevision: 1 });
        window.results = Promise.all([
          fetch(${JSON.stringify(target)}, { method: 'PUT', body, credentials: 'include', mode: 'no-cors' }).then(() => 'sent', (e) => 'failed: ' + e),
          fetch(${JSON.stringify(target)}, { method: 'PUT', body, credentials: 'include', headers: { 'Content-Type': 'application/json', 'X-Plugin-State-Token': 'guess' } }).then((r) => 'read ' + r.status, (e) => 'failed: ' + e),
          fetch(${JSON.stringify(`${target}/revisions/1/restore`)}, { method: 'POST', body, credentials: 'include', mode: 'no-cors' }).then(() => 'sent', (e) => 'failed: ' + e),
        ]);
      </script></body>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => evil.close(() => resolve())));
    const { page } = await openPage(t);
    await page.goto(ui.url); // the browser now holds the UI's cookie
    await rowCount(page, 1);
    await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
    const results = (await page.evaluate('window.results')) as string[];
    assert.equal(
      results[1]?.startsWith('failed'),
      true,
      `the token-header request is blocked by CORS: ${results[1]}`,
    );
    assert.deepEqual((await storage.loadState(idOf(1)))?.data, { safe: true });
    assert.equal((await storage.loadState(idOf(1)))?.revision, 1);

    // DNS rebinding: evil.example now points at 127.0.0.1; the server refuses the name.
    const rebound = await page.goto(`http://evil.example:${ui.port}/?token=${ui.token}`);
    assert.equal(rebound?.status(), 403);
    assert.doesNotMatch((await page.textContent('body')) ?? '', /plugin-state-token|safe/);
  });

  it('lists 10,000 states a page at a time (first page render time reported)', async (t) => {
    const storage: PluginStateStorage = new MemoryStateStorage();
    const saves: Promise<unknown>[] = [];
    for (let n = 0; n < 10_000; n++) {
      saves.push(
        storage.saveState({
          pluginId: idOf(n),
          data: { n, label: `state ${n}`, tags: ['a', 'b'] },
          lastModified: new Date(),
        }),
      );
    }
    await Promise.all(saves);
    const names = new Map(Array.from({ length: 10_000 }, (_, n) => [idOf(n), `plugin ${n}`] as const));
    const { ui } = await serve(t, { storage, pluginNames: names });
    const { page, errors } = await openPage(t);

    const rendered = async () => {
      await rowCount(page, 50);
      return (await page.evaluate(
        () => performance.getEntriesByName('plugin-state:list-rendered')[0]?.startTime ?? Number.NaN,
      )) as number;
    };
    await page.goto(ui.url);
    const first = await rendered();
    await page.reload();
    const again = await rendered();
    t.diagnostic(
      `10,000 states: first page rendered ${first.toFixed(0)} ms after navigation (first load, with the token redirect); ${again.toFixed(0)} ms on reload (target ≤ 300 ms)`,
    );
    assert.match((await page.locator('.pager').textContent()) ?? '', /1–50 of 10,000/);

    await page.getByRole('button', { name: 'Next →' }).click();
    await page.getByText('51–100 of 10,000').waitFor();
    await page.getByRole('button', { name: /^Size/ }).click();
    await page.getByText('1–50 of 10,000').waitFor();
    assert.equal(await page.locator('th[aria-sort="descending"]').textContent(), 'Size▼');
    await page.getByRole('searchbox', { name: 'Search states' }).fill('plugin 9999');
    await rowCount(page, 1);
    assert.match((await rows(page).first().textContent()) ?? '', /plugin 9999/);
    assert.deepEqual(errors, []);
  });
});
