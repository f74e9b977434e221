import type { RevisionInfo } from '../../core/types.js';
import { checkMeta, RowError, type StoredRow } from './rows.js';

/** `[current, plugin_id, version, revision, last_modified, size]`, as `Statements.revisions` returns it. */
export type RevisionRow = [current: unknown, ...meta: StoredRow];

/** A row of `Statements.selectRevision`: the flag, then the columns of a {@link StoredRow}. */
export type KeptRow = [current: unknown, ...row: StoredRow];

/** Whether a row of {@link RevisionRow} or {@link KeptRow} is the current one (else from history). */
export function isCurrent(row: RevisionRow | KeptRow): boolean {
  return row[0] === 1;
}

/**
 * Checks one row of `Statements.revisions` like a stored row (its data is only measured: it is
 * parsed when the revision is loaded) and describes it. Throws a RowError.
 */
export function toRevisionInfo(row: RevisionRow): RevisionInfo {
  const [current, ...meta] = row;
  const { version, revision, lastModified } = checkMeta(meta);
  const size = meta[4];
  if (typeof size !== 'number') throw new RowError('column data holds NULL, not JSON text');
  return { revision, version, lastModified: new Date(lastModified), size, current: current === 1 };
}

/** The current revision first, then history newest first (as `listRevisions` promises). */
export function newestFirst(a: RevisionInfo, b: RevisionInfo): number {
  if (a.current !== b.current) return a.current ? -1 : 1;
  return b.revision - a.revision;
}
