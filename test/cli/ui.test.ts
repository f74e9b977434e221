// plugin-state ui: prints the URL it serves, answers on it, and stops cleanly on SIGINT or SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pluginIdFromName } from '../../src/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { cliBackends, seed } from './cli.js';

const ENTRY = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Starts `plugin-state ui`, resolves with its first stdout line, and gives a way to stop it. */
function startUi(args: string[]) {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), ENTRY, 'ui', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const firstLine = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed in 20 s; stderr: ${stderr}`)), 20_000);
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const end = stdout.indexOf('\n');
      if (end >= 0) {
        clearTimeout(timer);
        resolve(stdout.slice(0, end));
      }
    });
    child.on('close', () => reject(new Error(`ui exited before printing a URL; stderr: ${stderr}`)));
  });
  return {
    firstLine,
    stop: async (signal: NodeJS.Signals) => {
      child.kill(signal);
      return { code: await exited, stderr: () => stderr, stdout: () => stdout };
    },
    kill: () => child.kill('SIGKILL'),
  };
}

for (const backend of cliBackends) {
  describe(`ui on the ${backend.name} store`, () => {
    it('prints a tokened URL on 127.0.0.1, serves the storage, stops on SIGTERM with exit 0', async (t) => {
      const url = await backend.url(tempDir(t), t);
      const id = pluginIdFromName('com.acme.theme');
      await seed(url, [{ pluginId: id, data: { theme: 'dark' } }]);
      const ui = startUi(['--storage', url]);
      t.after(() => ui.kill());
      const printed = new URL(await ui.firstLine);
      assert.equal(printed.hostname, '127.0.0.1');
      assert.ok(printed.searchParams.get('token'), 'the URL carries the access token');
      const page = await fetch(printed, { redirect: 'manual' });
      assert.ok(page.status < 400, `the page answers (${page.status})`);
      await page.arrayBuffer();
      const denied = await fetch(new URL('/', printed.origin));
      assert.equal(denied.status, 401, 'no token, no page');
      await denied.arrayBuffer();
      const stopped = await ui.stop('SIGTERM');
      assert.equal(stopped.code, 0, stopped.stderr());
      assert.match(stopped.stderr(), /SIGTERM: stopping the UI/);
    });
  });
}

describe('ui options', () => {
  it('--json prints { url, port }; --port is used; SIGINT stops it with exit 0', async (t) => {
    const url = `file:${join(tempDir(t), 'states')}`;
    const probe = startUi(['--storage', url, '--json']);
    t.after(() => probe.kill());
    assert.equal(await probe.firstLine, '{'); // --json pretty-prints one document
    const first = await probe.stop('SIGINT');
    assert.equal(first.code, 0, first.stderr());
    const document = JSON.parse(first.stdout());
    assert.equal(new URL(document.url).port, String(document.port));

    const port = await freePort();
    const fixed = startUi(['--storage', url, '--port', String(port)]);
    t.after(() => fixed.kill());
    const printed = new URL(await fixed.firstLine);
    assert.equal(printed.port, String(port));
    const stopped = await fixed.stop('SIGINT');
    assert.equal(stopped.code, 0, stopped.stderr());
  });
});

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
