// The fault loop, short form (issue 6, item 6). The fs calls of one operation are recorded, then
// the operation runs again on a copy of the same folder once per call index × ENOSPC, EIO, EACCES,
// EMFILE, EROFS × once/persistent (every call from that one on), plus short writes (once and
// repeated) at every write and EIO at every fsync with the fsync claims (fault-case.ts). Each case:
//   1. rejects with a PermissionError (EACCES, EROFS) or StorageError naming the plugin and the
//      file; or, only when the fault struck after the rename (or the delete's) published the change,
//      resolves or rejects with the complete new state stored; a failed fsync never resolves;
//   2. leaves the previous state byte-identical (state, history and markers), or the complete new
//      one, never a mix; another store's cached listStates sees what is on disk;
//   3. once the faults stop and a store is reopened (in this process): no temp file, lock or lock
//      owner file left, no descriptor left open, loadState/listStates/listRevisions/loadRevision
//      agree, each `~n` holds revision n;
//   4. the next save succeeds with the next revision number.
// Operations: first save, update with history, update that prunes history, delete, save after a
// delete (100 B states), and an update of a 1 MiB state. The long form, with history 0/1/10, more
// sizes and a summary table, is `npm run test:faults` (fault-long.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileSystemStateStorage } from '../../src/index.js';
import type { Prepared } from './fault-case.js';
import { FAULT_CODES, FaultyFs } from './fault-fs.js';
import { casesOf, FaultTally, prepareScenario, runCases } from './fault-loop.js';
import { type Scenario, scenarioLabel, stateOf } from './fault-scenario.js';

const scenarios: Scenario[] = [
  { operation: 'first save', history: 10, size: 100, warm: false },
  { operation: 'update', history: 10, size: 100, warm: false },
  { operation: 'update+prune', history: 2, size: 100, warm: false },
  { operation: 'delete', history: 10, size: 100, warm: false },
  { operation: 'save after delete', history: 10, size: 100, warm: false },
  { operation: 'update', history: 10, size: 1024 * 1024, warm: false },
];

const groups: Array<{ fault: string; mode: string }> = [
  ...FAULT_CODES.flatMap((fault) => ['once', 'persistent'].map((mode) => ({ fault, mode }))),
  { fault: 'short write', mode: 'once' },
  { fault: 'short write', mode: 'repeated' },
  ...['fsync (file)', 'fsync (folder)'].flatMap((fault) =>
    ['once', 'persistent'].map((mode) => ({ fault, mode })),
  ),
];

/** A case's failures, folded: one line per distinct failure, with the calls it happened at. */
function folded(lines: string[]): string {
  const byFailure = new Map<string, string[]>();
  for (const line of lines) {
    const match = /^.*? at call (\d+) \(([^)]*)\): (.*)$/s.exec(line);
    const [call, name, failure] = match ? [match[1]!, match[2]!, match[3]!] : ['?', '?', line];
    byFailure.set(failure, [...(byFailure.get(failure) ?? []), `${call} ${name}`]);
  }
  return [...byFailure].map(([failure, calls]) => `${failure}\n    at call ${calls.join('; ')}`).join('\n');
}

const tally = new FaultTally();

describe('fault loop: every fs call of an operation fails, once and for good; nothing is lost or torn', () => {
  for (const scenario of scenarios) {
    describe(scenarioLabel(scenario), () => {
      let prepared: Prepared;
      before(async () => {
        prepared = await prepareScenario(scenario, mkdtempSync(join(tmpdir(), 'plugin-state-faults-')));
      });
      after(() => prepared && rmSync(prepared.root, { recursive: true, force: true }));

      // A delete writes no file, so it has no file fsync to fail; every other group must find cases.
      const applies = ({ fault }: { fault: string }) =>
        !(scenario.operation === 'delete' && fault === 'fsync (file)');
      for (const { fault, mode } of groups.filter(applies)) {
        it(`${fault}, ${mode}`, async (t) => {
          const cases = casesOf(prepared).filter((c) => c.fault === fault && c.mode === mode);
          assert.ok(
            cases.length > 0,
            `the recorded sequence has no call for ${fault} (${mode}): the operation changed`,
          );
          const failedBefore = tally.failures.length;
          const results = await runCases(prepared, cases, tally);
          const count = (test: (r: (typeof results)[number]['result']) => boolean) =>
            results.filter(({ result }) => test(result)).length;
          t.diagnostic(
            `${cases.length} cases over ${prepared.calls.length} calls (commit at call ${prepared.commitAt}): ` +
              `${count((r) => r.typed)} typed rejections, ${count((r) => r.outcome === 'resolved' && r.disk === 'new')} resolved ` +
              `with the new state, ${count((r) => r.disk === 'previous')} left the previous state`,
          );
          const failures = tally.failures.slice(failedBefore);
          if (failures.length > 0) assert.fail(`${failures.length} failed checks:\n${folded(failures)}`);
        });
      }
    });
  }

  it('summary: operation × fault × mode', (t) => {
    for (const line of tally.table().split('\n')) t.diagnostic(line);
  });
});

describe('fault loop: consequences spelt out', () => {
  it('a lock whose removal failed once does not block the next save of the same store', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'plugin-state-faults-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const id = '6f1d3c2e-8b7a-5e4d-9c3b-2a1f0e9d8c7b';
    const faulty = new FaultyFs(id, dir);
    const store = new FileSystemStateStorage(dir, { fs: faulty.fs, lockTimeoutMs: 250 });
    t.after(() => store.close());
    await store.saveState(stateOf(id, 100, 'one', 1));
    // The release of the lock is the last call of a save: lstat (is it ours?), then unlink.
    faulty.arm({ kind: 'errno', code: 'EIO', at: 1_000, persistent: false });
    await store.saveState(stateOf(id, 100, 'two', 2));
    const unlinkAt = faulty.calls.findLastIndex((call) => call.name === 'unlinkSync');
    assert.equal(faulty.calls[unlinkAt]?.target, '<id>.json.lock');
    faulty.disarm();
    faulty.calls.length = 0;
    faulty.arm({ kind: 'errno', code: 'EIO', at: unlinkAt, persistent: false });
    const saved = await store.saveState(stateOf(id, 100, 'three', 3)); // the save is done and durable
    assert.equal(saved.revision, 3);
    faulty.disarm(); // the disk is fine again
    await assert.doesNotReject(
      store.saveState(stateOf(id, 100, 'four', 4)),
      'the lock left by the failed unlink names this live process, so no store in it can take it',
    );
  });
});
