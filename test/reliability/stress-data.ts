// What the stress test's processes write and log: shared by the worker (test/helpers/stress-worker.ts)
// and the parent's model (stress-model.ts).
//
// Every write's data names its id and its writer (`by`: process and sequence number), so no two
// writes hold the same data, except a restore, which saves a kept revision's data again. A state is
// known by the hash of its JSON text: the parent knows, for each id and revision, the hash that
// revision was acknowledged with, so a read that returns anything else (torn, mixed, from another
// id, never written) is caught exactly.
import { createHash } from 'node:crypto';
import type { JsonValue } from '../../src/index.js';

/** The kinds of write: plain save (last-writer-wins), big plain save, compare-and-set, counter increment, restore. */
export type WriteKind = 'save' | 'big' | 'cas' | 'inc' | 'restore';

/**
 * One line of a worker's log, written once the operation's promise resolved. `t0` and `t1` are
 * CLOCK_MONOTONIC microseconds (process.hrtime, one clock for every process of the machine) taken
 * just before the call and just after it resolved: the operation took effect somewhere in between.
 * `h` is {@link contentHash} of the data; `rev` a revision; `null` means nothing was there.
 */
export type LogEntry =
  | {
      op: 'write';
      kind: WriteKind;
      p: number;
      t0: number;
      t1: number;
      id: string;
      rev: number;
      h: string;
      size: number;
      /** restore: the revision restored. */
      from?: number;
      /** inc: the counter value written. */
      count?: number;
    }
  | { op: 'delete'; p: number; t0: number; t1: number; id: string }
  | { op: 'load'; p: number; t0: number; t1: number; id: string; rev: number | null; h: string | null }
  | { op: 'list'; p: number; t0: number; t1: number; states: Array<[id: string, rev: number, h: string]> }
  | {
      op: 'revisions';
      p: number;
      t0: number;
      t1: number;
      id: string;
      /** Newest first, as listRevisions returned them. */
      revisions: Array<[rev: number, size: number, current: boolean]>;
    }
  | {
      op: 'loadRevision';
      p: number;
      t0: number;
      t1: number;
      id: string;
      asked: number;
      rev: number | null;
      h: string | null;
    };

/**
 * What a worker prints at the end: how many operations of each kind it was acknowledged (also
 * cas-gave-up: too many conflicts in a row; restore-none: nothing kept to restore; restore-missed:
 * another process's saves dropped the revision between listRevisions and restoreRevision).
 */
export interface WorkerSummary {
  ops: Record<string, number>;
  /** Compare-and-set saves refused with a ConflictError and retried. */
  conflicts: number;
  ms: number;
}

/** The hash a state is known by: of its data's JSON text, as stored and returned. */
export function contentHash(data: JsonValue): string {
  return createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 20);
}

/** Bytes of the data serialized as JSON (UTF-8): what listRevisions reports as `size`. */
export function sizeOf(data: JsonValue): number {
  return Buffer.byteLength(JSON.stringify(data), 'utf8');
}

/** The data of a plain or compare-and-set write: `pad` characters of filler unique to the writer. */
export function writeData(id: string, by: string, pad: number, based?: number): JsonValue {
  const unit = `${by};`;
  const filler = unit.repeat(Math.ceil(pad / unit.length)).slice(0, pad);
  return based === undefined ? { id, by, pad: filler } : { id, by, based, pad: filler };
}

/** The data of a counter: only compare-and-set increments ever write it. */
export function counterData(id: string, by: string, count: number): JsonValue {
  return { id, counter: true, count, by };
}

/** The counter value a state holds (0 when nothing is stored). */
export function counterOf(data: JsonValue | undefined): number {
  const count = (data as { count?: unknown } | undefined)?.count;
  return typeof count === 'number' ? count : 0;
}

/** Now, in CLOCK_MONOTONIC microseconds: comparable between processes of one machine. */
export function now(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
