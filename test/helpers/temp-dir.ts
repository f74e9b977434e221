// A fresh temp folder per test, removed when the test ends, and small readers of what is on disk.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** Creates `<tmp>/plugin-state-XXXXXX` and removes it (whatever it holds) after the test. */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'plugin-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The names in a folder, sorted, less what a store keeps there by design: the change journal, the
 * history of the file storage (`<id>.json.~<revision>`, `<id>.json.~last`), and the lock-owner files
 * of this (live) test process's open stores. Another process's owner file stays visible, so a test
 * sees one that a dead process left behind.
 */
export function namesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter(
      (name) =>
        name !== '.changes.log' && !name.startsWith(`.owner-${process.pid}-`) && !/\.json\.~/.test(name),
    )
    .sort();
}

/** What the state files in `dir` hold, read straight from disk: id → { revision, data }. */
export function statesOnDisk(dir: string): Map<string, { revision: number; data: unknown }> {
  const states = new Map<string, { revision: number; data: unknown }>();
  for (const name of readdirSync(dir)) {
    const match = /^([0-9a-f-]{36})\.json$/.exec(name);
    if (!match) continue;
    const envelope = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { revision: number; data: unknown };
    states.set(match[1]!, { revision: envelope.revision, data: envelope.data });
  }
  return states;
}
