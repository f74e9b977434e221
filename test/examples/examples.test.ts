// The examples are documentation that runs: each is executed as a user would, and its output checked.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/temp-dir.js';

function runExample(file: string, env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, ['--import', 'tsx', file], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
}

describe('examples', () => {
  it('plugin-host.ts (npm start): the second run starts from what the first saved', (t) => {
    const dir = tempDir(t);
    const first = runExample('examples/plugin-host.ts', { PLUGIN_STATE_DIR: dir });
    const second = runExample('examples/plugin-host.ts', { PLUGIN_STATE_DIR: dir });
    assert.match(first, /3 states on disk/);
    assert.match(first, /revision 1/);
    assert.match(second, /revision 2/, second);
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
