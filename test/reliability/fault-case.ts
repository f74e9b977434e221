// One case of the fault loop: a copy of the scenario's folder, one operation under one fault, then
// the checks of fault-loop.test.ts. A case never throws for a failed check: it returns each one
// as a line, so a run reports every failing case at once.

import { lstatSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  FileSystemStateStorage,
  PermissionError,
  type PluginState,
  PluginStateError,
  StorageError,
} from '../../src/index.js';
import { describeCalls, type Fault, FaultyFs, type FsCall } from './fault-fs.js';
import { checkReopened, checkRepeat } from './fault-recovery.js';
import {
  copyFolder,
  dataOf,
  revisionOf,
  revisionsInFolder,
  runOperation,
  type Scenario,
  scenarioLabel,
  snapshot,
  snapshotDiff,
  stateOf,
  type Template,
} from './fault-scenario.js';

/** A scenario with its recorded call sequence and the folders before and after a clean run. */
export interface Prepared {
  scenario: Scenario;
  label: string;
  template: Template;
  /** The fs calls of the operation, run without faults. */
  calls: FsCall[];
  /** Index of the call that publishes the change (the rename into place, or the delete's). */
  commitAt: number;
  previous: Map<string, Buffer>;
  expected: Map<string, Buffer>;
  /** The revision a save stores. */
  revision: number | undefined;
  root: string;
  cases: number;
}

export type Disk = 'previous' | 'new' | 'mixed';

/**
 * What the file backend claims of a failed fsync, checked on top of the loop's rules:
 * - of the temp file (file-system.ts, writeTemp; DESIGN.md "a failed fsync fails the save"): the
 *   save rejects, the temp file is never renamed into place nor fsynced again, the previous state
 *   stays;
 * - of the folder (syncFolderAfterChange): the call rejects, saying the change was made but "may
 *   not survive a power cut" (never "unchanged"), the new state is what is stored, the folder is
 *   not fsynced again within the call, and "repeat the call" works: repeated on the same store
 *   once the fault is gone, it resolves, and only after an fsync of the folder of its own.
 */
export type FsyncClaims = 'fsync (file)' | 'fsync (folder)';

export interface CaseResult {
  fault: Fault | undefined;
  /** The first call the fault struck. */
  struck: FsCall | undefined;
  outcome: 'resolved' | 'rejected';
  /** Rejected with the typed error the fault calls for, naming the plugin and the file. */
  typed: boolean;
  disk: Disk;
  error: unknown;
  calls: FsCall[];
  failures: string[];
}

const HISTORY_NAME = /\.json\.~(\d+|last)$/;

async function setUp(prepared: Pick<Prepared, 'scenario' | 'template'>, dir: string) {
  const { scenario, template } = prepared;
  copyFolder(template.dir, dir);
  const faulty = new FaultyFs(template.id, dir);
  const store = new FileSystemStateStorage(dir, {
    fs: faulty.fs,
    history: scenario.history,
    lockTimeoutMs: 250,
  });
  await store.open(); // the faults strike the operation, not the opening
  if (scenario.warm) await store.saveState(stateOf(template.other, 200, 'warm', 2));
  return { faulty, store };
}

/** Runs the operation once without faults, recording its calls and what it leaves on disk. */
export async function prepare(scenario: Scenario, root: string, template: Template): Promise<Prepared> {
  const dir = join(root, 'recording');
  const { faulty, store } = await setUp({ scenario, template }, dir);
  const previous = snapshot(dir);
  faulty.arm();
  const saved = await runOperation(store, scenario, template.id);
  faulty.disarm();
  await store.close();
  const expected = snapshot(dir);
  rmSync(dir, { recursive: true, force: true });
  const calls = [...faulty.calls];
  const commit =
    scenario.operation !== 'delete'
      ? (call: FsCall) => call.name === 'renameSync' && /^<id>\.json\.tmp-\* -> <id>\.json$/.test(call.target)
      : scenario.history >= 1
        ? (call: FsCall) => call.name === 'renameSync' && call.target === '<id>.json -> <id>.json.~last'
        : (call: FsCall) => call.name === 'unlinkSync' && call.target === '<id>.json';
  const commitAt = calls.findIndex(commit);
  if (commitAt < 0) throw new Error(`${scenarioLabel(scenario)}: no commit call in\n${describeCalls(calls)}`);
  return {
    scenario,
    label: scenarioLabel(scenario),
    template,
    calls,
    commitAt,
    previous,
    expected,
    revision: saved?.revision,
    root,
    cases: 0,
  };
}

/** The new state: every file of the clean run, plus at most history files the tidy-up left. */
function isNewState(prepared: Prepared, after: Map<string, Buffer>): boolean {
  for (const [name, bytes] of prepared.expected) if (!after.get(name)?.equals(bytes)) return false;
  for (const [name, bytes] of after) {
    if (prepared.expected.has(name)) continue;
    const left = name.startsWith(prepared.template.id) && HISTORY_NAME.test(name);
    if (!left || !prepared.previous.get(name)?.equals(bytes)) return false;
  }
  return true;
}

/**
 * The previous state, byte for byte. One extra name is tolerated, as history.ts documents it: the
 * link `~<n>` of the current revision n made right before a rename that then failed, when removing
 * it failed too (a second name of the same inode, never listed, reused by the next save).
 */
function isPreviousState(prepared: Prepared, dir: string, after: Map<string, Buffer>): boolean {
  const { previous, template } = prepared;
  const current = `${template.id}.json`;
  if (![...previous.keys()].every((name) => after.has(name))) return false;
  for (const [name, bytes] of after) {
    if (previous.get(name)?.equals(bytes)) continue;
    if (previous.has(name) || !previous.has(current)) return false;
    const stray = HISTORY_NAME.exec(name);
    const revision = revisionOf(previous.get(current)!);
    const sameInode = lstatSync(join(dir, name)).ino === lstatSync(join(dir, current)).ino;
    if (!name.startsWith(template.id) || stray?.[1] !== String(revision) || !sameInode) return false;
  }
  return true;
}

function expectedClass(fault: Fault | undefined): typeof StorageError | typeof PermissionError | undefined {
  if (fault?.kind !== 'errno') return undefined;
  return fault.code === 'EACCES' || fault.code === 'EROFS' ? PermissionError : StorageError;
}

/** Why a rejection is not the typed one the brief asks for; undefined when it is. */
function rejectionProblem(prepared: Prepared, error: unknown, fault: Fault | undefined, postCommit: boolean) {
  const { id } = prepared.template;
  if (!(error instanceof PluginStateError)) return `untyped rejection: ${String(error)}`;
  const wanted = expectedClass(fault);
  if (!postCommit && wanted) {
    const right =
      error instanceof wanted && (wanted === PermissionError || !(error instanceof PermissionError));
    if (!right) return `${error.name} where ${wanted.name} was due: ${error.message}`;
  }
  if (error.pluginId !== id) return `the error carries pluginId ${error.pluginId}: ${error.message}`;
  if (!error.message.includes(id)) return `the message does not name the plugin: ${error.message}`;
  return undefined;
}

/** Runs one case in a fresh copy of the scenario's folder. */
export async function runCase(
  prepared: Prepared,
  fault: Fault | undefined,
  claims?: FsyncClaims,
): Promise<CaseResult> {
  const { scenario, template } = prepared;
  const { id } = template;
  const dir = join(prepared.root, `case-${prepared.cases++}`);
  const statePath = join(dir, `${id}.json`);
  const failures: string[] = [];
  // Named so that the same failure reads the same in every case.
  const fail = (what: string) =>
    failures.push(
      what.replaceAll(dir, '<folder>').replaceAll(id, '<id>').replaceAll(template.other, '<other>'),
    );
  const { faulty, store } = await setUp(prepared, dir);
  const observer = new FileSystemStateStorage(dir, { history: scenario.history });
  await observer.listStates(); // fills its list cache: it must hear of the change through the journal

  faulty.arm(fault);
  let saved: PluginState | undefined;
  let error: unknown;
  let outcome: CaseResult['outcome'] = 'resolved';
  try {
    saved = await runOperation(store, scenario, id);
  } catch (caught) {
    outcome = 'rejected';
    error = caught;
  }
  faulty.disarm();
  const calls = [...faulty.calls];
  const firstStruck = faulty.struck[0];
  const struck = firstStruck === undefined ? undefined : calls[firstStruck];

  // The same calls as the clean run up to the fault: otherwise the index means another call.
  const until = firstStruck ?? calls.length;
  for (let i = 0; i <= Math.min(until, calls.length - 1); i++) {
    const want = prepared.calls[i];
    if (!want || want.name !== calls[i]!.name || want.target !== calls[i]!.target) {
      fail(
        `call ${i} was ${calls[i]!.name} ${calls[i]!.target}, the clean run made ${want?.name} ${want?.target}`,
      );
      break;
    }
  }
  if (fault && firstStruck === undefined) fail('the fault struck no call');

  const after = snapshot(dir);
  const disk: Disk = isPreviousState(prepared, dir, after)
    ? 'previous'
    : isNewState(prepared, after)
      ? 'new'
      : 'mixed';
  if (disk === 'mixed')
    fail(`on disk neither the previous nor the new state: ${snapshotDiff(prepared.previous, after, id)}`);
  const postCommit = firstStruck !== undefined && firstStruck > prepared.commitAt;
  let typed = false;
  if (outcome === 'resolved') {
    if (disk !== 'new') fail(`resolved, but on disk: ${disk}`);
    if (faulty.struck.some((i) => calls[i]!.name === 'fsyncSync') && fault?.kind === 'errno')
      fail('resolved although an fsync failed (retried or ignored)');
    if (scenario.operation !== 'delete') {
      if (saved?.revision !== prepared.revision)
        fail(`resolved with revision ${saved?.revision}, not ${prepared.revision}`);
      if (!isDeepStrictEqual(saved?.data, dataOf(scenario.size, 'new'))) fail('resolved with other data');
    }
  } else {
    const problem = rejectionProblem(prepared, error, fault, postCommit);
    const message = error instanceof Error ? error.message : String(error);
    if (problem) fail(problem);
    else if (!message.includes(statePath))
      fail(`the message does not name the file ${statePath}: ${message}`);
    else typed = true;
    if (disk === 'new' && !postCommit)
      fail('rejected, yet the new state is stored though the fault struck before the commit');
    if (disk === 'new' && /unchanged/.test(message))
      fail(`says the state is unchanged, but the new one is stored: ${message}`);
    if (disk === 'previous' && /new state was written|was removed/.test(message))
      fail(`says the change was made, but the previous state is on disk: ${message}`);
  }

  if (claims && firstStruck !== undefined) {
    const message = error instanceof Error ? error.message : String(error);
    const later = calls.slice(firstStruck + 1);
    if (outcome !== 'rejected') fail(`${claims} failed, yet the call resolved`);
    if (claims === 'fsync (file)') {
      if (disk !== 'previous') fail(`the fsync of the temp file failed, yet on disk: ${disk}`);
      if (later.some((call) => call.target.startsWith('<id>.json.tmp-*') && /rename|fsync/.test(call.name)))
        fail('the temp file was fsynced again or renamed into place after its fsync failed');
    } else {
      if (disk !== 'new') fail(`the folder fsync failed after the change, yet on disk: ${disk}`);
      if (!/may not survive a power cut/.test(message) || /unchanged/.test(message))
        fail(`the message does not say the change may not be durable: ${message}`);
      if (later.some((call) => call.name === 'fsyncSync' && call.target === '<folder>'))
        fail('the folder was fsynced again within the call after its fsync failed');
      await checkRepeat(prepared, store, faulty, fail);
    }
  }

  // Another store's cached list must see what is on disk now (the change journal's job).
  try {
    const listed = new Map((await observer.listStates()).map((state) => [state.pluginId, state.revision]));
    const truth = revisionsInFolder(dir);
    if (!isDeepStrictEqual(listed, truth))
      fail(
        `another store's listStates shows ${JSON.stringify([...listed])}, the disk ${JSON.stringify([...truth])}`,
      );
  } catch (caught) {
    fail(`another store's listStates threw: ${String(caught)}`);
  }
  await observer.close();

  try {
    await store.close();
  } catch (caught) {
    fail(`close after the faults stopped threw: ${String(caught)}`);
  }
  const leaked = faulty.closeLeaked();
  if (leaked.length > 0) fail(`descriptors never closed: ${leaked.join(', ')}`);

  await checkReopened(prepared, dir, fail);
  rmSync(dir, { recursive: true, force: true });
  return { fault, struck, outcome, typed, disk, error, calls, failures };
}
