// The crash loop (issue 6, item 7): a child saves and deletes states as fast as it can
// (test/helpers/crash-worker.ts), the parent kills it with SIGKILL at a random moment, opens a fresh
// store on the same folder or database and checks everything the child was acknowledged; then the
// next child starts on the same store, so recovery after many kills is exercised cumulatively.
// Used by crash.test.ts (the short form in `npm test`) and crash-long.ts (`npm run test:crash`).
//
// The model. The child runs its operations on each id one at a time and prints a line before each
// (the intent) and one after the promise resolved (the acknowledgement). So after a kill the parent
// knows, per id, the state that must be stored (what the last check found, then every acknowledged
// operation in order), and at most one operation that may or may not have happened: the one whose
// intent has no acknowledgement. The check is exact: the stored state must be either the
// acknowledged one, or the result of that one operation in flight, byte for byte (by the hash the
// data carries and the sequence number its revision must hold); and the last DEFAULT_HISTORY
// replaced revisions must be in history with the content each was saved with.
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import {
  DEFAULT_HISTORY,
  openStorage,
  type PluginState,
  type PluginStateStorage,
  pluginIdFromName,
  type StateReport,
} from '../../src/index.js';
import { Child, helperScript } from '../helpers/processes.js';
import { BIG_BYTES, checkData, random } from './crash-data.js';

export const CRASH_WORKER = helperScript('crash-worker.ts');

export type Backend = 'file' | 'sqlite';

export interface CrashLoopOptions {
  backend: Backend;
  /** The folder (file) or the database file (sqlite); created by the first child when missing. */
  place: string;
  /** How many children to kill. */
  kills: number;
  /** Makes the children's operations and the kill plan repeatable (not the exact kill moments). */
  seed: number;
  /** How many plugin ids the children work on (6 unless told). */
  plugins?: number;
  /**
   * Every this many kills (and after the last) every kept revision is loaded and checked again;
   * in between, each revision is loaded once after it enters history, and only listed after.
   */
  fullCheckEvery?: number;
  /** Stops after the kill in progress once `performance.now()` passes this (the long form's time limit). */
  stopAt?: number;
  /** Called after each checked kill. */
  onProgress?: (stats: CrashStats) => void;
  /** Called after each kill, before the check: the test of the checks themselves damages the store here. */
  afterKill?: (round: number) => void | Promise<void>;
}

/** What a crash loop did and found. Every field under "found" must be 0 for a pass. */
export interface CrashStats {
  backend: Backend;
  seed: number;
  kills: number;
  /** Kills before the child had opened the store and read its revisions (open and recovery). */
  killedInOpen: number;
  /** Kills with a save of 768 KiB to 1 MiB in flight. */
  killedMidBigSave: number;
  /** Kills with any operation in flight, and how many of those the check found done. */
  killedMidOperation: number;
  inFlightLanded: number;
  acknowledgedSaves: number;
  acknowledgedDeletes: number;
  /** Revisions loaded from history and checked byte for byte. */
  revisionsChecked: number;
  /** File: temp files the kills left (a kill mid-write), found before the fresh store opened. */
  tempFilesBeforeReopen: number;
  /** Lines cut short by the kill (ignored: see `parseOutput`). */
  partialLines: number;
  // found:
  losses: number;
  torn: number;
  unreadable: number;
  tempFilesAfterReopen: number;
  other: number;
  ms: number;
  /** Where the time went (ms): waiting for a child to load, the children's runs, the checks. */
  time: { ready: number; run: number; check: number };
}

/** A crash loop that found a problem: its message says what, where, and how to run it again. */
export class CrashLoopFailure extends Error {
  constructor(
    message: string,
    readonly stats: CrashStats,
  ) {
    super(message);
  }
}

type Kind = 'losses' | 'torn' | 'unreadable' | 'tempFilesAfterReopen' | 'other';

interface Content {
  seq: number;
  hash: string;
}

/** What the parent knows of one id. */
class IdModel {
  /** The revision stored now (undefined: nothing stored, or deleted). */
  current: number | undefined;
  /** The highest revision ever stored (revisions keep counting after a delete). */
  highest = 0;
  /** What each revision holds: every revision ever stored is acknowledged or seen by a check. */
  readonly contents = new Map<number, Content>();
  /** History revisions already loaded and checked since they entered history. */
  readonly verified = new Set<number>();
}

type Pending = { kind: 'save'; seq: number; hash: string; bytes: number } | { kind: 'delete' };

/** How the parent kills one child. */
type KillPlan =
  | { mode: 'open'; afterMs: number }
  | { mode: 'timer'; afterMs: number }
  | { mode: 'big'; armMs: number; fraction: number };

/** The output of one child, kept whole (every chunk), and split into lines as it arrives. */
class Output {
  readonly lines: string[] = [];
  partial = '';
  private watcher: ((line: string | undefined) => void) | undefined;

  /** `closed`: resolves once the process has exited and its stdout is closed (all output is in). */
  constructor(
    child: Child,
    readonly closed: Promise<unknown>,
  ) {
    // Our own listener beside Child's: it sees every chunk of stdout, in order.
    child.process.stdout.on('data', (chunk: string) => {
      this.partial += chunk;
      for (let newline = this.partial.indexOf('\n'); newline >= 0; newline = this.partial.indexOf('\n')) {
        const line = this.partial.slice(0, newline);
        this.partial = this.partial.slice(newline + 1);
        this.lines.push(line);
        this.watcher?.(line);
      }
    });
    void closed.then(() => this.watcher?.(undefined));
  }

  /**
   * The first line matching, from line `from` on; undefined when the output closes or `timeoutMs`
   * pass first. It resolves inside the stdout callback, so what follows runs right after the line.
   */
  waitFor(match: (line: string) => boolean, from: number, timeoutMs: number): Promise<string | undefined> {
    const seen = this.lines.slice(from).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const done = (line: string | undefined) => {
        clearTimeout(timer);
        this.watcher = undefined;
        resolve(line);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.watcher = (line) => {
        if (line === undefined || match(line)) done(line);
      };
    });
  }
}

interface Running {
  child: Child;
  childSeed: number;
  output: Output;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Runs the crash loop; resolves with its figures, or rejects with a CrashLoopFailure. */
export async function crashLoop(options: CrashLoopOptions): Promise<CrashStats> {
  const { backend, place, kills, seed } = options;
  const fullCheckEvery = options.fullCheckEvery ?? 25;
  const url = `${backend}:${place}`;
  const ids = Array.from({ length: options.plugins ?? 6 }, (_, i) => pluginIdFromName(`crash-test-${i}`));
  const models = new Map(ids.map((id) => [id, new IdModel()]));
  const plan = random(seed ^ (backend === 'file' ? 0x5f11e : 0x5971e));
  const stats: CrashStats = {
    backend,
    seed,
    kills: 0,
    killedInOpen: 0,
    killedMidBigSave: 0,
    killedMidOperation: 0,
    inFlightLanded: 0,
    acknowledgedSaves: 0,
    acknowledgedDeletes: 0,
    revisionsChecked: 0,
    tempFilesBeforeReopen: 0,
    partialLines: 0,
    losses: 0,
    torn: 0,
    unreadable: 0,
    tempFilesAfterReopen: 0,
    other: 0,
    ms: 0,
    time: { ready: 0, run: 0, check: 0 },
  };
  const started = performance.now();
  /** A big save's usual duration here, from the children's acknowledgements (ms). */
  let bigSaveMs = 40;

  const spawn = (round: number): Running => {
    const childSeed = Math.floor(random(seed + round * 7919)() * 2 ** 31);
    const child = new Child([url, String(childSeed), String((round + 1) * 1_000_000), ids.join(',')], {
      script: CRASH_WORKER,
      label: `crash child (${backend}, round ${round})`,
    });
    live.add(child);
    void child.exited.then(() => live.delete(child));
    // 'exit' may come before the last chunks of stdout are read; 'close' comes after them.
    return { child, childSeed, output: new Output(child, once(child.process, 'close')) };
  };

  /** Children not yet reaped: killed whatever ends the loop. */
  const live = new Set<Child>();
  let next: Running | undefined = spawn(0);
  try {
    for (
      let round = 0;
      round < kills && performance.now() < (options.stopAt ?? Number.POSITIVE_INFINITY);
      round++
    ) {
      const running = next!;
      const { child, output } = running;
      next = undefined;
      let mark = performance.now();
      const lap = (what: keyof CrashStats['time']) => {
        const now = performance.now();
        stats.time[what] += now - mark;
        mark = now;
      };
      const ready = await output.waitFor((line) => line === 'ready', 0, 60_000);
      lap('ready');
      if (ready === undefined) {
        const { code, signal } = await child.exited;
        throw child.failure(`exited with code ${code} (signal ${signal}) before it was ready`);
      }
      // The next child loads its modules while this one runs and is checked.
      if (round + 1 < kills) next = spawn(round + 1);

      const kill = pickPlan(plan);
      child.send('go');
      await killAsPlanned(running, kill, bigSaveMs);
      await child.kill();
      // Every line the child printed before it died: 'close' comes after the last chunk of stdout.
      await output.closed;
      const { signal } = await child.exited;
      lap('run');

      const round$ = { round, childSeed: running.childSeed, problems: [] as string[] };
      const problem = (kind: Kind, text: string) => {
        stats[kind]++;
        round$.problems.push(`${kind}: ${text}`);
      };
      if (signal !== 'SIGKILL')
        problem('other', `the child was not killed by us: ${child.failure('ended').message}`);

      await options.afterKill?.(round);
      const { pending, startedSeen, bigMs } = parseOutput(output, models, stats, problem);
      for (const ms of bigMs) bigSaveMs = bigSaveMs * 0.8 + ms * 0.2;
      stats.kills++;
      if (!startedSeen) stats.killedInOpen++;
      if (pending.size > 0) stats.killedMidOperation++;
      if ([...pending.values()].some((op) => op.kind === 'save' && op.bytes >= BIG_BYTES))
        stats.killedMidBigSave++;

      await checkStore(url, backend, place, ids, models, pending, stats, problem, {
        full: (round + 1) % fullCheckEvery === 0 || round + 1 === kills,
      });
      lap('check');
      if (round$.problems.length > 0) {
        stats.ms = performance.now() - started;
        throw new CrashLoopFailure(
          `crash loop on ${backend} (${url}) failed after kill ${round + 1} (${kill.mode} kill; ` +
            `run again with seed ${seed}: the same children, each with the same sequence of operations, and the ` +
            `same kill plan; the exact kill moments depend on timing. This child's seed: ${round$.childSeed}):\n  ` +
            `${round$.problems.join('\n  ')}\nLines the killed child printed:\n${tail(output)}` +
            `\nThe store is left at ${place} for inspection.`,
          stats,
        );
      }
      stats.ms = performance.now() - started;
      options.onProgress?.(stats);
    }
  } finally {
    await Promise.all([...live].map((child) => child.kill()));
  }
  stats.ms = performance.now() - started;
  return stats;
}

function pickPlan(next: () => number): KillPlan {
  const r = next();
  // A tenth during open and recovery (the child needs ~10-60 ms to open and read its revisions),
  // 45% at any moment of the loop, 45% in the middle of a save of 768 KiB to 1 MiB.
  if (r < 0.1) return { mode: 'open', afterMs: next() * 40 };
  if (r < 0.55) return { mode: 'timer', afterMs: next() * 250 };
  return { mode: 'big', armMs: next() * 80, fraction: next() };
}

async function killAsPlanned(running: Running, plan: KillPlan, bigSaveMs: number): Promise<void> {
  const { output } = running;
  if (plan.mode === 'open') {
    await sleep(plan.afterMs);
    return;
  }
  const isStarted = (line: string) => line.startsWith('{"started":');
  if ((await output.waitFor(isStarted, 0, 30_000)) === undefined) return;
  if (plan.mode === 'timer') {
    await sleep(plan.afterMs);
    return;
  }
  await sleep(plan.armMs);
  // The next big save announced from now on (not one already announced: it may be done).
  const from = output.lines.length;
  const big = await output.waitFor(
    (line) =>
      line.startsWith('{"intent":"save"') && (JSON.parse(line) as { bytes: number }).bytes >= BIG_BYTES,
    from,
    3_000, // a quarter of saves are big: 3 s without one is an unlucky draw (or a stuck child)
  );
  if (big === undefined) return;
  // Anywhere in the save: validation and serialization, the write, the fsyncs, the rename or commit.
  await sleep(plan.fraction * bigSaveMs * 1.25);
}

/**
 * Reads what the killed child printed, in order, into the model: every acknowledged save and
 * delete, and per id the one operation in flight (announced, not acknowledged), if any. The caller
 * has waited for the child's 'close' event, not only 'exit' (which can come first): every chunk
 * of stdout is in, so no acknowledgement printed before the kill is missed.
 *
 * The last line may be cut short (the kill came in the middle of writing it): it has no newline,
 * since the newline is the last byte of each write. It is ignored, and that is sound:
 * - a cut intent: the child prints it before calling the storage, so that operation never started;
 * - a cut acknowledgement: the operation did finish in the child, but ignoring the line only leaves
 *   it "in flight", so the check accepts the state before it or after it. That can never make the
 *   check fail wrongly; it only spares that one operation (of that one id, on that one kill) the
 *   exact check, and the parent never counts as acknowledged a line it did not read whole. A host
 *   is in the same place: a save whose result it never saw is not one it can rely on. Every other
 *   operation is still checked exactly.
 * In practice no line is cut: each is one write(2) of less than PIPE_BUF bytes to a pipe, which
 * Linux makes atomic; `partialLines` counts them, so a change to that shows in the figures.
 */
function parseOutput(
  output: Output,
  models: Map<string, IdModel>,
  stats: CrashStats,
  problem: (kind: Kind, text: string) => void,
): { pending: Map<string, Pending>; startedSeen: boolean; bigMs: number[] } {
  if (output.partial !== '') stats.partialLines++;
  const pending = new Map<string, Pending>();
  const bigMs: number[] = [];
  let startedSeen = false;
  for (const line of output.lines) {
    if (line === 'ready') continue;
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      problem('other', `the child printed a line that is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
      continue;
    }
    if (message.error) {
      problem('other', `the child failed: ${JSON.stringify(message.error)}`);
      continue;
    }
    if (message.started) {
      startedSeen = true;
      const revisions = message.revisions as Record<string, number | null>;
      for (const [id, model] of models) {
        if ((revisions[id] ?? undefined) !== model.current) {
          problem(
            'losses',
            `the child opened the store and found revision ${revisions[id]} of ${id}, but the last check found ${model.current ?? 'nothing'}`,
          );
        }
      }
      continue;
    }
    const id = message.id as string;
    const model = models.get(id);
    if (!model) {
      problem('other', `the child printed an unknown id: ${line}`);
      continue;
    }
    if (message.intent) {
      if (pending.has(id)) problem('other', `two operations in flight on ${id}: ${line}`);
      pending.set(
        id,
        message.intent === 'delete'
          ? { kind: 'delete' }
          : {
              kind: 'save',
              seq: message.seq as number,
              hash: message.hash as string,
              bytes: message.bytes as number,
            },
      );
      continue;
    }
    const announced = pending.get(id);
    pending.delete(id);
    if (message.deleted) {
      stats.acknowledgedDeletes++;
      if (announced?.kind !== 'delete') problem('other', `a delete of ${id} acknowledged, never announced`);
      const before = (message['revision-before'] as number | null) ?? undefined;
      if (before !== model.current) {
        problem('other', `the child deleted revision ${before} of ${id}, the model has ${model.current}`);
      }
      model.current = undefined;
      continue;
    }
    stats.acknowledgedSaves++;
    const revision = message.revision as number;
    const content = { seq: message.seq as number, hash: message.hash as string };
    if (announced?.kind !== 'save' || announced.seq !== content.seq || announced.hash !== content.hash) {
      problem('other', `an acknowledgement that matches no announced save: ${line}`);
    }
    if (announced?.kind === 'save' && announced.bytes >= BIG_BYTES) bigMs.push(message.ms as number);
    if (revision !== model.highest + 1) {
      problem(
        'other',
        `save seq ${content.seq} of ${id} was acknowledged as revision ${revision}; the highest before was ${model.highest}`,
      );
    }
    model.contents.set(revision, content);
    model.current = revision;
    model.highest = Math.max(model.highest, revision);
  }
  return { pending, startedSeen, bigMs };
}

const TEMP = /\.tmp-/;

function tempFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => TEMP.test(name));
  } catch {
    return []; // the folder is made by the first child that opens the store
  }
}

/** Opens a fresh store on the place and checks every id, the list, the history, and the files. */
async function checkStore(
  url: string,
  backend: Backend,
  place: string,
  ids: string[],
  models: Map<string, IdModel>,
  pending: Map<string, Pending>,
  stats: CrashStats,
  problem: (kind: Kind, text: string) => void,
  { full }: { full: boolean },
): Promise<void> {
  if (backend === 'file') stats.tempFilesBeforeReopen += tempFiles(place).length;
  const reports: StateReport[] = [];
  let store: PluginStateStorage;
  try {
    store = await openStorage(url, { onReport: (report) => reports.push(report) });
  } catch (error) {
    problem('unreadable', `a fresh store does not open: ${String(error)}`);
    return;
  }
  try {
    if (backend === 'file') {
      const left = tempFiles(place);
      if (left.length > 0) {
        problem('tempFilesAfterReopen', `temp files left after the store opened again: ${left.join(', ')}`);
      }
    }
    const found = new Map<string, PluginState | undefined>();
    for (const id of ids) {
      try {
        found.set(id, await store.loadState(id));
      } catch (error) {
        problem('unreadable', `loadState(${id}) failed: ${String(error)}`);
        continue;
      }
      judge(id, found.get(id), models.get(id)!, pending.get(id), stats, problem);
    }
    await checkList(store, ids, found, problem);
    for (const id of ids) await checkHistory(store, id, models.get(id)!, full, stats, problem);
  } finally {
    await store.close?.();
  }
  for (const report of reports) {
    problem(report.code === 'SERIALIZATION' ? 'unreadable' : 'other', `reported: ${report.message}`);
  }
  if (backend === 'sqlite') await checkDatabase(place, problem);
}

/** Whether the stored state of `id` is the acknowledged one, or the result of the operation in flight. */
function judge(
  id: string,
  found: PluginState | undefined,
  model: IdModel,
  inFlight: Pending | undefined,
  stats: CrashStats,
  problem: (kind: Kind, text: string) => void,
): void {
  const acknowledged = model.current === undefined ? 'nothing' : describe(model, model.current);
  const flight =
    inFlight === undefined
      ? ''
      : inFlight.kind === 'delete'
        ? ', or nothing (a delete was in flight)'
        : `, or revision ${model.highest + 1} with seq ${inFlight.seq} (a save of ${inFlight.bytes} characters was in flight)`;
  if (found === undefined) {
    if (model.current === undefined) return;
    if (inFlight?.kind === 'delete') {
      stats.inFlightLanded++;
      model.current = undefined;
      return;
    }
    problem('losses', `${id}: nothing is stored; expected ${acknowledged}${flight}`);
    return;
  }
  const self = checkData(id, found.data);
  if (!self.ok) {
    problem(
      'torn',
      `${id}: revision ${found.revision} is not whole: ${self.why}; expected ${acknowledged}${flight}`,
    );
    return;
  }
  const revision = found.revision!;
  const known = model.contents.get(revision);
  if (revision === model.current && known && known.seq === self.seq && known.hash === self.hash) return;
  if (
    inFlight?.kind === 'save' &&
    revision === model.highest + 1 &&
    self.seq === inFlight.seq &&
    self.hash === inFlight.hash
  ) {
    stats.inFlightLanded++;
    model.contents.set(revision, { seq: self.seq, hash: self.hash });
    model.current = revision;
    model.highest = revision;
    return;
  }
  // An older revision than acknowledged, or a state back after an acknowledged delete: something
  // acknowledged was lost. The acknowledged revision with other content: a mix.
  const kind =
    model.current === undefined
      ? model.highest > 0
        ? 'losses'
        : 'other'
      : revision < model.current
        ? 'losses'
        : revision === model.current
          ? 'torn'
          : 'other';
  problem(kind, `${id}: found revision ${revision} with seq ${self.seq}; expected ${acknowledged}${flight}`);
}

function describe(model: IdModel, revision: number): string {
  const content = model.contents.get(revision);
  return `revision ${revision} with seq ${content?.seq} (hash ${content?.hash})`;
}

/** listStates: no error, nothing skipped, the same states as loadState, each whole. */
async function checkList(
  store: PluginStateStorage,
  ids: string[],
  found: Map<string, PluginState | undefined>,
  problem: (kind: Kind, text: string) => void,
): Promise<void> {
  let listed: PluginState[];
  try {
    listed = await store.listStates();
  } catch (error) {
    problem('unreadable', `listStates failed: ${String(error)}`);
    return;
  }
  const byId = new Map(listed.map((state) => [state.pluginId, state]));
  for (const id of ids) {
    const state = byId.get(id);
    const loaded = found.get(id);
    if (state?.revision !== loaded?.revision) {
      problem('other', `${id}: listStates gives revision ${state?.revision}, loadState ${loaded?.revision}`);
      continue;
    }
    if (state) {
      const self = checkData(id, state.data);
      if (!self.ok)
        problem('torn', `${id}: listStates gives revision ${state.revision}, not whole: ${self.why}`);
    }
  }
  if (byId.size !== listed.length || listed.some((state) => !ids.includes(state.pluginId))) {
    problem('other', `listStates gives ids ${listed.map((state) => state.pluginId).join(', ')}`);
  }
}

/**
 * History: the last DEFAULT_HISTORY revisions the current one replaced (or, after a delete, the
 * deleted one and those before it) are listed, and each is loaded once and checked against what it
 * was saved with (every one of them again on a full check). An older revision still listed is
 * allowed (the file backend drops it after the rename, so a kill in between leaves it until the
 * next save), but must be whole too.
 */
async function checkHistory(
  store: PluginStateStorage,
  id: string,
  model: IdModel,
  full: boolean,
  stats: CrashStats,
  problem: (kind: Kind, text: string) => void,
): Promise<void> {
  let listed: Awaited<ReturnType<NonNullable<PluginStateStorage['listRevisions']>>>;
  try {
    listed = await store.listRevisions!(id);
  } catch (error) {
    problem('unreadable', `listRevisions(${id}) failed: ${String(error)}`);
    return;
  }
  const current = listed.filter((info) => info.current).map((info) => info.revision);
  if (current.length > 1 || current[0] !== model.current) {
    problem(
      'other',
      `${id}: listRevisions marks ${current.join(', ') || 'none'} current; the state is ${model.current}`,
    );
  }
  const kept = new Set(listed.filter((info) => !info.current).map((info) => info.revision));
  const top = model.current ?? model.highest + 1;
  const low = Math.max(1, top - DEFAULT_HISTORY);
  const toLoad: number[] = [];
  for (let revision = low; revision < top; revision++) {
    if (!kept.has(revision)) {
      problem(
        'losses',
        `${id}: ${describe(model, revision)} is not in history (it should keep ${low}…${top - 1})`,
      );
    } else if (full || !model.verified.has(revision)) {
      toLoad.push(revision);
    }
  }
  for (const revision of kept) {
    if (revision >= top) problem('other', `${id}: history lists revision ${revision}, at or above ${top}`);
    else if (revision < low && !model.verified.has(revision)) toLoad.push(revision);
  }
  for (const revision of toLoad) {
    let state: PluginState | undefined;
    try {
      state = await store.loadRevision!(id, revision);
    } catch (error) {
      problem('unreadable', `loadRevision(${id}, ${revision}) failed: ${String(error)}`);
      continue;
    }
    stats.revisionsChecked++;
    const known = model.contents.get(revision);
    const self = state && checkData(id, state.data);
    if (!state || !self) {
      problem(
        'losses',
        `${id}: ${describe(model, revision)} is listed in history but loadRevision finds nothing`,
      );
    } else if (!self.ok) {
      problem('torn', `${id}: revision ${revision} in history is not whole: ${self.why}`);
    } else if (!known || known.seq !== self.seq || known.hash !== self.hash || state.revision !== revision) {
      problem(
        'torn',
        `${id}: revision ${revision} in history holds seq ${self.seq}; expected ${describe(model, revision)}`,
      );
    } else {
      model.verified.add(revision);
    }
  }
  // Forget what can no longer be kept.
  for (const revision of model.contents.keys()) {
    if (revision < low - 1 && !kept.has(revision)) {
      model.contents.delete(revision);
      model.verified.delete(revision);
    }
  }
}

/** SQLite: the database (and its WAL) opens with a plain connection and passes integrity_check. */
async function checkDatabase(path: string, problem: (kind: Kind, text: string) => void): Promise<void> {
  const { default: Database } = await import('better-sqlite3');
  let db: InstanceType<typeof Database> | undefined;
  try {
    db = new Database(path);
    const result = db.pragma('integrity_check', { simple: true });
    if (result !== 'ok') problem('unreadable', `PRAGMA integrity_check of ${path}: ${String(result)}`);
  } catch (error) {
    problem('unreadable', `the database ${path} does not open or check: ${String(error)}`);
  } finally {
    db?.close();
  }
}

function tail(output: Output): string {
  const lines = output.lines
    .slice(-12)
    .map((line) => `    ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`);
  if (output.partial) lines.push(`    (cut short) ${output.partial.slice(0, 300)}`);
  return lines.join('\n');
}
