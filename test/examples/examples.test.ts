// The examples are documentation that runs: each is executed as a user would, and its output checked.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Child } from '../helpers/processes.js';
import { tempDir } from '../helpers/temp-dir.js';

function runExample(file: string, env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, ['--import', 'tsx', file], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
}

describe('examples', () => {
  it('plugin-host.ts: the second run starts from what the first saved', (t) => {
    const dir = tempDir(t);
    const first = runExample('examples/plugin-host.ts', { PLUGIN_STATE_DIR: dir });
    const second = runExample('examples/plugin-host.ts', { PLUGIN_STATE_DIR: dir });
    assert.match(first, /3 states on disk/);
    assert.match(first, /revision 1/);
    assert.match(second, /revision 2/, second);
  });

  it('ui-host.ts (npm start): runs the host, serves the web UI on its store, stops on Ctrl-C', async (t) => {
    const dir = tempDir(t);
    runExample('examples/plugin-host.ts', { PLUGIN_STATE_DIR: dir }); // a store that is not empty
    const child = new Child([], {
      script: 'examples/ui-host.ts',
      env: { PLUGIN_STATE_DIR: dir },
      label: 'npm start',
    });
    t.after(() => child.kill());
    const lines: string[] = [];
    let url: string | undefined;
    while (url === undefined) {
      const line = await child.nextLine(30_000);
      lines.push(line);
      url = /^Web UI: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)$/.exec(line)?.[1];
    }
    const output = lines.join('\n');
    assert.match(output, /3 states on disk/);
    assert.match(output, /revision 2/, output); // the second session: the store was kept, not re-seeded

    const base = url.slice(0, url.indexOf('/?'));
    assert.equal((await fetch(`${base}/`)).status, 401, 'the page needs the token');
    const login = await fetch(url, { redirect: 'manual' }); // trades the token for a cookie
    assert.equal(login.status, 303);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const page = await fetch(`${base}/`, { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>plugin-state<\/title>/);
    const token = new URL(url).searchParams.get('token')!;
    const list = await fetch(`${base}/api/states`, { headers: { 'X-Plugin-State-Token': token } });
    const body = (await list.json()) as { total: number; items: Array<{ name: string }> };
    assert.equal(body.total, 3);
    assert.deepEqual(body.items.map((item) => item.name).sort(), ['launch-counter', 'recent-files', 'theme']);

    child.process.kill('SIGINT');
    while ((await child.nextLine(10_000)) !== 'Web UI stopped.');
    assert.deepEqual(await child.exited, { code: 0, signal: null });
  });

  it('migration.ts: release 3 migrates the state of release 1 and keeps it in history', () => {
    const out = runExample('examples/migration.ts');
    assert.match(out, /"status":"migrate".*"steps":\[2,3\]/);
    assert.match(out, /migrated plugin .* from version 1 to 3 \(steps 2, 3\)/);
    assert.match(
      out,
      /release 3 loaded: \{"contacts":\[\{"first":"Ada","last":"Lovelace","email":"ada@example.org"\},\{"first":"Charles","last":"Babbage","email":"charles@example.org"\}\]\}/,
    );
    assert.match(out, /revision 2 \(version 3, current\)/);
    assert.match(
      out,
      /revision 1 \(version 1\): \{"contacts":\[\{"name":"Ada Lovelace","mail":"ada@example.org"\}/,
    );
  });
});
