// `npm run screenshots`: takes the README's pictures of the web UI (docs/screenshots/*.png) in
// Debian's Chromium, on a throwaway store seeded with a plugin host's typical states.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSystemStateStorage, type JsonValue, openStorage, pluginIdFromName } from '../src/index.js';
import { startUiServer } from '../src/ui/index.js';
import { launchChromium } from '../test/ui/chromium.js';

const OUT = 'docs/screenshots';
const dir = mkdtempSync(join(tmpdir(), 'plugin-state-screenshots-'));
const storage = await openStorage(`file:${dir}`);
const elsewhere = new FileSystemStateStorage(dir);

/** Saves each value in turn, as successive revisions, a few minutes apart. */
async function seed(name: string, ...revisions: JsonValue[]): Promise<string> {
  const id = pluginIdFromName(`com.example.${name}`);
  let at = Date.now() - revisions.length * 7 * 60_000 - Math.floor(Math.random() * 3_600_000);
  for (const data of revisions) {
    at += 7 * 60_000;
    await storage.saveState({ pluginId: id, data, lastModified: new Date(at) });
  }
  return id;
}

const editor = await seed(
  'editor',
  { fontSize: 13, tabSize: 2, wordWrap: false, minimap: { enabled: true, side: 'right' }, rulers: [100] },
  {
    fontSize: 14,
    tabSize: 2,
    wordWrap: false,
    minimap: { enabled: true, side: 'right' },
    rulers: [100, 120],
  },
  {
    fontSize: 14,
    tabSize: 2,
    wordWrap: true,
    minimap: { enabled: false, side: 'right' },
    rulers: [100, 120],
    formatOnSave: true,
    keybindings: [
      { key: 'ctrl+shift+f', command: 'format.document' },
      { key: 'ctrl+k ctrl+s', command: 'keybindings.open' },
    ],
  },
);
const theme = await seed('theme', { theme: 'light', fontSize: 14 }, { theme: 'dark', fontSize: 14 });
await seed('launch-counter', { launches: 41 }, { launches: 42 });
await seed('recent-files', { files: ['~/notes/plan.md', '~/src/app/main.ts', '~/src/app/config.json'] });
await seed('git-helper', { autoFetch: true, fetchIntervalMinutes: 10, remotes: ['origin', 'upstream'] });
await seed('spell-check', { languages: ['en-GB', 'de-DE'], ignored: ['kysely', 'unstorage', 'fsync'] });
await seed('terminal', {
  shell: '/bin/zsh',
  scrollback: 10000,
  profiles: { default: { font: 'JetBrains Mono' } },
});
await seed('search', { history: ['saveState', 'expectedRevision', 'ConflictError'], caseSensitive: false });
await seed('snippets', {
  typescript: { log: 'console.log($1);', test: "it('$1', async () => {\n  $2\n});" },
});
await seed('window-layout', {
  sidebar: { visible: true, width: 280 },
  panel: { position: 'bottom', height: 240 },
});
await seed('telemetry', { enabled: false });
await seed('markdown-preview', { scrollSync: true, breaks: false, theme: 'github' });

const names = new Map(
  [
    'editor',
    'theme',
    'launch-counter',
    'recent-files',
    'git-helper',
    'spell-check',
    'terminal',
    'search',
    'snippets',
    'window-layout',
    'telemetry',
  ].map((name) => [pluginIdFromName(`com.example.${name}`), name]),
);
const ui = await startUiServer({ storage, pluginNames: names });
const browser = await launchChromium();
try {
  mkdirSync(OUT, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1200, height: 720 }, colorScheme: 'light' });
  const page = await context.newPage();
  const shot = async (name: string, fullPage = false) => {
    // A full-page picture starts at the top (the sticky bar would otherwise sit mid-page), with no focus ring.
    await page.evaluate(() => {
      const window = globalThis as unknown as {
        scrollTo(x: number, y: number): void;
        document: { activeElement: { blur?(): void } | null };
      };
      window.scrollTo(0, 0);
      window.document.activeElement?.blur?.();
    });
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage });
    console.log(`${OUT}/${name}.png`);
  };

  await page.goto(ui.url);
  await page.locator('table.states tbody tr').nth(10).waitFor();
  await shot('list');

  await page.goto(`${ui.url.slice(0, ui.url.indexOf('?'))}#/state/${editor}`);
  await page.locator('.tree').waitFor();
  await page.getByRole('button', { name: 'Expand all' }).click();
  await shot('state-tree');

  await page.goto(`${ui.url.slice(0, ui.url.indexOf('?'))}#/state/${theme}/edit`);
  const text = page.getByRole('textbox', { name: 'State data as JSON' });
  await text.fill(JSON.stringify({ theme: 'solarized', fontSize: 15 }, null, 2));
  await elsewhere.saveState(
    { pluginId: theme, data: { theme: 'high-contrast', fontSize: 16 }, lastModified: new Date() },
    { expectedRevision: 2 },
  );
  await page.locator('[data-save]').click();
  await page.locator('.alert.conflict').waitFor();
  await shot('edit-conflict', true);

  await page.goto(`${ui.url.slice(0, ui.url.indexOf('?'))}#/state/${editor}/history`);
  await page.getByRole('radio', { name: 'Compare revision 1 as the older side' }).check();
  await page.getByRole('heading', { name: 'Revision 1 → revision 3' }).waitFor();
  await shot('history-diff', true);
  await context.close();
} finally {
  await browser.close();
  await ui.close();
  await storage.close?.();
  await elsewhere.close();
  rmSync(dir, { recursive: true, force: true });
}
