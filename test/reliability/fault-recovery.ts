// What the fault loop checks once the faults stop: that repeating a call whose folder fsync failed
// makes it durable, and that a store reopened on the folder finds nothing left over, reads
// everything consistently and saves again (checks 3 and 4 of fault-loop.test.ts).
import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { FileSystemStateStorage } from '../../src/index.js';
import type { Prepared } from './fault-case.js';
import type { FaultyFs } from './fault-fs.js';
import { dataOf, revisionOf, revisionsInFolder, runOperation, stateOf } from './fault-scenario.js';

/** "Repeat the call": on the same store, without faults, it resolves after an fsync of the folder. */
export async function checkRepeat(
  prepared: Prepared,
  store: FileSystemStateStorage,
  faulty: FaultyFs,
  fail: (what: string) => void,
): Promise<void> {
  const before = faulty.calls.length;
  faulty.arm();
  try {
    const saved = await runOperation(store, prepared.scenario, prepared.template.id);
    if (saved && saved.revision !== prepared.revision! + 1)
      fail(`the repeated call stored revision ${saved.revision}, not ${prepared.revision! + 1}`);
    const synced = faulty.calls
      .slice(before)
      .some((call) => call.name === 'fsyncSync' && call.target === '<folder>');
    if (!synced)
      fail(
        `the repeated ${prepared.scenario.operation} resolved without an fsync of the folder: the change the failed call made may still not survive a power cut`,
      );
  } catch (caught) {
    fail(`the repeated call failed: ${String(caught)}`);
  } finally {
    faulty.disarm();
  }
}

/** After the faults stop, a new store on the folder: nothing left over, all readable, saves again. */
export async function checkReopened(
  prepared: Prepared,
  dir: string,
  fail: (what: string) => void,
): Promise<void> {
  const { scenario, template } = prepared;
  const { id } = template;
  const reopened = new FileSystemStateStorage(dir, { history: scenario.history, lockTimeoutMs: 250 });
  try {
    await reopened.open();
    const names = readdirSync(dir);
    const short = (name: string) =>
      name.replace(id, '<id>').replace(/\.tmp-[0-9]+-[0-9]+-[0-9a-f]+$/, '.tmp-*');
    const temps = names.filter((name) => /\.tmp-/.test(name));
    const locks = names.filter((name) => /\.lock(\.break)?$/.test(name));
    if (temps.length > 0) fail(`temp file left after reopen: ${temps.map(short).join(', ')}`);
    if (locks.length > 0) fail(`lock left after reopen: ${locks.map(short).join(', ')}`);
    // Removed so that the checks below are not masked (a lock of this live process would block them).
    for (const name of [...temps, ...locks]) unlinkSync(join(dir, name));
    const owners = names.filter((name) => name.startsWith('.owner-'));
    if (owners.length > 0) fail('a lock owner file (.owner-*) left after its store closed');

    const current = await reopened.loadState(id);
    if (current?.revision !== revisionsInFolder(dir).get(id)) fail('loadState disagrees with the file');
    const listed = (await reopened.listStates()).find((state) => state.pluginId === id);
    if (listed?.revision !== current?.revision) fail('listStates disagrees with loadState');
    const other = await reopened.loadState(template.other);
    if (!other) fail('the other plugin’s state is gone');

    // History: each ~n holds revision n, and listRevisions shows the newest of them below the current.
    const kept = new Map<number, number>();
    let highest = current?.revision ?? 0;
    for (const name of readdirSync(dir)) {
      const match = /\.json\.~(\d+|last)$/.exec(name);
      if (!match || !name.startsWith(id)) continue;
      const revision = revisionOf(readFileSync(join(dir, name))) ?? 0;
      highest = Math.max(highest, revision);
      if (match[1] === 'last') continue;
      kept.set(Number(match[1]), revision);
      if (revision !== Number(match[1])) fail(`${short(name)} holds revision ${revision}`);
    }
    const revisions = await reopened.listRevisions(id);
    const below = [...kept.keys()]
      .filter((n) => current === undefined || n < current.revision!)
      .sort((a, b) => b - a)
      .slice(0, Math.max(scenario.history, 1));
    const listedKept = revisions.filter((info) => !info.current).map((info) => info.revision);
    if (!isDeepStrictEqual(listedKept, below))
      fail(`listRevisions shows ${listedKept.join(',')}, the folder keeps ${below.join(',')}`);
    for (const revision of listedKept) {
      if ((await reopened.loadRevision(id, revision))?.revision !== revision)
        fail(`loadRevision(${revision}) reads another revision`);
    }

    const next = await reopened.saveState(stateOf(id, scenario.size, 'next', 200), {
      expectedRevision: current?.revision ?? 0,
    });
    if (next.revision !== highest + 1)
      fail(`the next save stored revision ${next.revision}, not ${highest + 1}`);
    const reread = await reopened.loadState(id);
    if (reread?.revision !== next.revision || !isDeepStrictEqual(reread?.data, dataOf(scenario.size, 'next')))
      fail('the next save does not read back');
  } catch (caught) {
    fail(
      `after the faults stopped: ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`,
    );
  } finally {
    await reopened.close();
  }
}
