// Runs every operation of one state size against a group of subjects. The operations that wait for
// the disk (save, update, delete) run interleaved op by op, the subject order rotating each round,
// so that every subject meets the same disk at the same moment and their ratio in one run means
// something even when the disk's speed drifts. The operations that only read the page cache and
// spend CPU (load, list) run back to back, one subject's block after the other's: interleaved, the
// raw recipe's garbage (a list of 1,000 files parses ~3 MB) was collected inside the file storage's
// timed lists and doubled their p50.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { edited, type JsonObject, makeStateData, variant } from './data.js';
import type { Subject, SubjectKind } from './subjects.js';

export interface SizeSpec {
  label: string;
  bytes: number;
  /** Timed operations per op (save, update, load, delete). */
  ops: number;
  /** Untimed rounds of every op first, on other ids. */
  warmup: number;
  /** How many states a list returns. */
  listStates: number;
  listReps: number;
  /** Lists that each follow one save (the index re-reads one file). */
  listDirtyReps: number;
  /** First lists of a fresh instance. */
  listColdReps: number;
  /**
   * Smaller counts for the SQLite and PostgreSQL pairs, whose lists of large states parse every row
   * on every call (a list of 100 × 100 KB takes 0.1–0.15 s): they keep the full run within minutes.
   */
  database?: Partial<Pick<SizeSpec, 'ops' | 'listReps' | 'listDirtyReps' | 'listColdReps'>>;
}

/** Every sample of one (subject, size, op), in ms. */
export interface Samples {
  subject: string;
  size: string;
  op: string;
  samples: number[];
}

interface Live {
  kind: SubjectKind;
  subject: Subject;
  dir: string;
}

type Check = (result: unknown, round: number) => string | undefined;

interface RoundOptions {
  /** Untimed, right before the timed call. */
  before?: (entry: Live, round: number) => Promise<unknown>;
  /** Untimed, right after it, with its result. */
  after?: (result: unknown) => Promise<unknown>;
  /** Returns what is wrong with a result, if anything: the run stops then. */
  check?: Check;
}

class Recorder {
  readonly all: Samples[] = [];

  constructor(private readonly size: string) {}

  add(subject: string, op: string, ms: number): void {
    let entry = this.all.find((s) => s.subject === subject && s.op === op);
    if (!entry) {
      entry = { subject, size: this.size, op, samples: [] };
      this.all.push(entry);
    }
    entry.samples.push(ms);
  }
}

/**
 * One round per index: for each subject in rotated order, `before` (untimed), then `run` timed on
 * its own with `process.hrtime.bigint()`, then `after` and the check of the result (untimed).
 */
async function interleave(
  live: readonly Live[],
  rounds: number,
  op: string | undefined,
  recorder: Recorder,
  run: (entry: Live, round: number) => Promise<unknown>,
  options: RoundOptions = {},
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < live.length; k++) {
      const entry = live[(round + k) % live.length]!;
      await options.before?.(entry, round);
      const start = process.hrtime.bigint();
      const result = await run(entry, round);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      await options.after?.(result);
      const problem = options.check?.(result, round);
      if (problem) throw new Error(`${entry.kind.name} ${op ?? 'warm-up'} round ${round}: ${problem}`);
      if (op) recorder.add(entry.kind.name, op, ms);
    }
    // Let the event loop turn between rounds (untimed), as it does in a host between operations,
    // so that nothing left queued by one op is paid inside the next one's timing.
    await nextTurn();
  }
}

/** The same rounds, but all of one subject's before the next subject's. */
async function backToBack(
  live: readonly Live[],
  rounds: number,
  op: string,
  recorder: Recorder,
  run: (entry: Live, round: number) => Promise<unknown>,
  options: RoundOptions = {},
): Promise<void> {
  for (const entry of live) await interleave([entry], rounds, op, recorder, run, options);
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const seqOf = (data: unknown) => (data as JsonObject | undefined)?.seq;

/** Runs one size for every subject, each in a fresh folder under `root` that is removed afterwards. */
export async function runSize(
  spec: SizeSpec,
  kinds: readonly SubjectKind[],
  root: string,
  log: (line: string) => void,
): Promise<Samples[]> {
  const recorder = new Recorder(spec.label);
  const live: Live[] = [];
  const base = makeStateData(spec.bytes);
  try {
    for (const kind of kinds) {
      const dir = join(root, `${spec.label}-${kind.name}`);
      live.push({ kind, dir, subject: await kind.open(dir) });
    }

    // Warm-up on ids of its own: every op, untimed, then gone again.
    const warm = Array.from({ length: spec.warmup }, () => randomUUID());
    await interleave(live, spec.warmup, undefined, recorder, (e, i) =>
      e.subject.save(warm[i]!, variant(base, i)),
    );
    await interleave(live, spec.warmup, undefined, recorder, (e, i) =>
      e.subject.save(warm[i]!, edited(base, i)),
    );
    await interleave(live, spec.warmup, undefined, recorder, (e, i) => e.subject.load(warm[i]!));
    await interleave(live, 2, undefined, recorder, (e) => e.subject.list());
    await interleave(live, spec.warmup, undefined, recorder, (e, i) => e.subject.delete(warm[i]!));

    const ids = Array.from({ length: spec.ops }, () => randomUUID());
    const seqs = new Map(ids.map((id, i) => [id, i]));
    log(`  ${spec.label}: save ×${spec.ops}`);
    await interleave(live, spec.ops, 'save', recorder, (e, i) => e.subject.save(ids[i]!, variant(base, i)));
    log(`  ${spec.label}: update ×${spec.ops}`);
    await interleave(live, spec.ops, 'update', recorder, (e, i) => e.subject.save(ids[i]!, edited(base, i)));
    const loadOrder = shuffled(ids);
    log(`  ${spec.label}: load ×${spec.ops}`);
    await backToBack(live, spec.ops, 'load', recorder, (e, i) => e.subject.load(loadOrder[i]!), {
      check: (data, i) =>
        seqOf(data) === seqs.get(loadOrder[i]!) ? undefined : `loaded seq ${String(seqOf(data))}`,
    });
    const deleteOrder = shuffled(ids);
    log(`  ${spec.label}: delete ×${spec.ops}`);
    await interleave(live, spec.ops, 'delete', recorder, (e, i) => e.subject.delete(deleteOrder[i]!));
    await interleave(live, 1, undefined, recorder, (e) => e.subject.list(), {
      check: (count) => (count === 0 ? undefined : `${String(count)} states left after deleting all`),
    });

    // Lists: a store of `listStates` states (saved untimed), warmed by two lists (the first builds
    // the file storage's index), then timed.
    const listed = Array.from({ length: spec.listStates }, () => randomUUID());
    log(`  ${spec.label}: filling ${spec.listStates} states for list`);
    await interleave(live, spec.listStates, undefined, recorder, (e, i) =>
      e.subject.save(listed[i]!, variant(base, i)),
    );
    const countIs: Check = (count) =>
      count === spec.listStates ? undefined : `listed ${String(count)}, expected ${spec.listStates}`;
    await interleave(live, 2, undefined, recorder, (e) => e.subject.list(), { check: countIs });
    log(`  ${spec.label}: list of ${spec.listStates} ×${spec.listReps}`);
    await backToBack(live, spec.listReps, 'list', recorder, (e) => e.subject.list(), { check: countIs });
    log(`  ${spec.label}: list after one save ×${spec.listDirtyReps}`);
    await backToBack(live, spec.listDirtyReps, 'list-after-save', recorder, (e) => e.subject.list(), {
      before: (e, i) => e.subject.save(listed[i % listed.length]!, edited(base, i)),
      check: countIs,
    });
    const cold = live.filter((e) => e.kind.coldList);
    log(`  ${spec.label}: first list of a fresh instance ×${spec.listColdReps}`);
    await backToBack(cold, spec.listColdReps, 'list-cold', recorder, (e) => e.kind.coldList!(e.dir), {
      after: (opened) => (opened as { close: () => Promise<void> }).close(),
      check: (opened) => countIs((opened as { count: number }).count, 0),
    });
  } finally {
    for (const entry of live) {
      await entry.subject.close();
      rmSync(entry.dir, { recursive: true, force: true });
    }
  }
  return recorder.all;
}
