import type { Readable } from 'node:stream';
import { IntegrityError, ValidationError } from '../core/errors.js';
import { resolveLimits, type StateLimits } from '../core/limits.js';
import type { PluginStateStorage } from '../core/storage.js';
import type { PluginId } from '../core/types.js';
import { archiveLocation, lineTooLong } from './archive-errors.js';
import { type ArchiveInput, archiveInput } from './archive-input.js';
import { type ArchiveRecord, RECORD_OVERHEAD_BYTES } from './format.js';
import { splitLines } from './lines.js';
import { ArchiveChecker, type ArchiveSummary, parseRecordLine } from './verify.js';

/** Options of {@link restore}. */
export interface RestoreOptions {
  /**
   * `'merge'`: every state in the archive is saved as a new revision on top of what the storage
   * holds; states only in the storage stay. `'replace'`: afterwards the storage holds exactly the
   * archive's states: the others are deleted — not purged, so their last revision stays in history
   * and `restoreRevision` can undo the delete.
   */
  mode: 'merge' | 'replace';
  /**
   * Write the archive's history records (default true): each state's kept revisions are saved
   * first, oldest first, then its current one, so the storage's history holds them (as far as its
   * own `history` setting keeps). False writes current states only and counts the rest as skipped.
   */
  history?: boolean;
  /**
   * The limits every record is checked against before anything is written (default: depth 128,
   * 10 MiB, as every storage has). Give the target storage's own limits if it was configured with
   * others, so that no record is refused half-way through a restore.
   */
  limits?: Partial<StateLimits>;
  /** Verify the archive and say what would be written and deleted, writing nothing (default false). */
  dryRun?: boolean;
  /** States written at the same time (default 4); one state's records are always written in order. */
  concurrency?: number;
  /** Called as the restore advances; a throwing callback is ignored. */
  onProgress?: (progress: RestoreProgress) => void;
}

export interface RestoreProgress {
  /** `verify`: records checked (total unknown until the end); `write`: records saved; `delete`: states deleted. */
  phase: 'verify' | 'write' | 'delete';
  done: number;
  total?: number;
}

/** What {@link restore} did (or, with `dryRun`, would do). */
export interface RestoreResult {
  mode: 'merge' | 'replace';
  dryRun: boolean;
  /** States whose current record was saved. */
  restored: number;
  /** History records saved before their state's current one. */
  revisions: number;
  /** History records not written (`history: false`). */
  skipped: number;
  /** States deleted because the archive does not hold them (`replace` only). */
  deleted: number;
  /** What the verified archive holds, from its header and trailer. */
  archive: {
    createdAt: Date;
    source: string;
    history: boolean;
    records: number;
    states: number;
    sha256: string;
  };
}

/**
 * Restores a {@link backup} archive (a file path or a `Readable`) into `storage`, which may be a
 * different backend than the one backed up.
 *
 * The whole archive is verified before anything is written: its format and version, every
 * record's checksum and shape, ids, the data limits, and the trailer's count and checksum. A
 * damaged archive rejects with an `IntegrityError` (bytes changed, truncated, a wrong count) or a
 * `SerializationError` (a line not shaped as the format says, a bad id, data over the limits),
 * whose message and `location` (`<archive>:<line>`) name the line; the storage is left untouched.
 *
 * Then each record is saved (no compare-and-set: last writer wins) with its data, version and
 * lastModified; its revision is the storage's next. A state's history records are saved first,
 * oldest first, then its current record. In `replace` mode the states the archive does not hold
 * are deleted afterwards (a state saved by someone else during the restore may be among them:
 * replace a store no one else writes to). A failed save stops the restore and rejects with its
 * error: the states saved before it stay saved, and `replace` deletes nothing. Running the same
 * restore again is safe: it saves the same states again.
 *
 * @example
 * const report = await restore(storage, '/var/backups/plugin-states.ndjson', { mode: 'replace' });
 * console.log(`${report.restored} states restored, ${report.deleted} deleted (undo: restoreRevision)`);
 */
export async function restore(
  storage: PluginStateStorage,
  archive: string | Readable,
  options: RestoreOptions,
): Promise<RestoreResult> {
  const { mode, writeHistory, concurrency, limits } = checkArguments(storage, archive, options);
  const input = await archiveInput(archive);
  try {
    const summary = await verify(input, limits, options.onProgress);
    const result: RestoreResult = {
      mode,
      dryRun: options.dryRun === true,
      restored: 0,
      revisions: 0,
      skipped: writeHistory ? 0 : summary.historyRecords,
      deleted: 0,
      archive: {
        createdAt: new Date(summary.header.createdAt),
        source: summary.header.source,
        history: summary.header.history,
        records: summary.records,
        states: summary.states,
        sha256: summary.sha256,
      },
    };
    await storage.open?.();
    if (result.dryRun) {
      result.restored = summary.states;
      result.revisions = writeHistory ? summary.historyRecords : 0;
      if (mode === 'replace') result.deleted = (await absentFromArchive(storage, summary)).length;
      return result;
    }
    await writeRecords(storage, input, summary, limits, {
      writeHistory,
      concurrency,
      onWritten: (record) => {
        if (record.current) result.restored++;
        else result.revisions++;
        notify(options.onProgress, {
          phase: 'write',
          done: result.restored + result.revisions,
          total: summary.states + (writeHistory ? summary.historyRecords : 0),
        });
      },
    });
    if (mode === 'replace') {
      const extra = await absentFromArchive(storage, summary);
      for (const pluginId of extra) {
        await storage.deleteState(pluginId);
        result.deleted++;
        notify(options.onProgress, { phase: 'delete', done: result.deleted, total: extra.length });
      }
    }
    return result;
  } finally {
    await input.dispose().catch(() => undefined);
  }
}

/** The first pass: every line checked, nothing kept but ids and digests. */
async function verify(
  input: ArchiveInput,
  limits: StateLimits,
  onProgress: RestoreOptions['onProgress'],
): Promise<ArchiveSummary> {
  const checker = new ArchiveChecker(input.name, limits);
  const maxLine = limits.maxBytes + RECORD_OVERHEAD_BYTES;
  for await (const line of splitLines(input.first(), maxLine, (n) => lineTooLong(input.name, n, maxLine))) {
    const before = checker.checked;
    checker.check(line);
    if (checker.checked > before) notify(onProgress, { phase: 'verify', done: checker.checked });
  }
  return checker.finish();
}

/**
 * The second pass: reads the archive again and saves its records, each checked to be the very line
 * the first pass verified (a file changed in between is refused from that line on).
 */
async function writeRecords(
  storage: PluginStateStorage,
  input: ArchiveInput,
  summary: ArchiveSummary,
  limits: StateLimits,
  how: { writeHistory: boolean; concurrency: number; onWritten: (record: ArchiveRecord) => void },
): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let tail: Promise<void> = Promise.resolve();
  let tailId: PluginId | undefined;

  const save = async (record: ArchiveRecord) => {
    if (failure) return;
    try {
      await storage.saveState({
        pluginId: record.pluginId,
        data: record.data,
        version: record.version,
        lastModified: new Date(record.lastModified),
      });
      how.onWritten(record);
    } catch (error) {
      failure ??= { error };
    }
  };

  try {
    for await (const record of verifiedRecords(input, summary, limits)) {
      if (!record.current && !how.writeHistory) continue;
      while (running.size >= how.concurrency) await Promise.race(running);
      if (failure) break;
      // The records of one state are contiguous: each waits for the one before it.
      const task = (record.pluginId === tailId ? tail : Promise.resolve()).then(() => save(record));
      tail = task;
      tailId = record.pluginId;
      running.add(task);
      void task.then(() => running.delete(task));
    }
  } finally {
    await Promise.all(running);
  }
  if (failure) throw failure.error;
}

async function* verifiedRecords(
  input: ArchiveInput,
  summary: ArchiveSummary,
  limits: StateLimits,
): AsyncGenerator<ArchiveRecord> {
  const maxLine = limits.maxBytes + RECORD_OVERHEAD_BYTES;
  let index = 0;
  const changed = (line: number, cause?: unknown) =>
    new IntegrityError(
      `restore: the archive ${input.name} changed while it was being restored (line ${line} is not what was verified); ` +
        'the states before it were written, nothing after it. Restore from an archive no one writes to.',
      { operation: 'restore', location: archiveLocation(input.name, line), cause },
    );
  const tooLong = (line: number): never => {
    throw changed(line);
  };
  for await (const line of splitLines(input.second(), maxLine, tooLong)) {
    if (line.number === 1) continue;
    if (index === summary.records) return; // the trailer, verified in the first pass
    let parsed: ReturnType<typeof parseRecordLine>;
    try {
      parsed = parseRecordLine(line, input.name, limits);
    } catch (error) {
      throw changed(line.number, error);
    }
    if (!summary.digests.matches(index, parsed.digest)) throw changed(line.number);
    index++;
    yield parsed.record;
  }
  if (index !== summary.records) throw changed(index + 2);
}

/** The storage's states that the archive does not hold. */
async function absentFromArchive(storage: PluginStateStorage, summary: ArchiveSummary): Promise<PluginId[]> {
  return (await storage.listStates())
    .map((state) => state.pluginId.toLowerCase())
    .filter((pluginId) => !summary.ids.has(pluginId))
    .sort();
}

function notify(onProgress: RestoreOptions['onProgress'], progress: RestoreProgress): void {
  try {
    onProgress?.(progress);
  } catch {
    // A host's progress display must not stop a restore half-way.
  }
}

function checkArguments(
  storage: PluginStateStorage,
  archive: unknown,
  options: RestoreOptions,
): { mode: 'merge' | 'replace'; writeHistory: boolean; concurrency: number; limits: StateLimits } {
  const refuse = (message: string) => new ValidationError(`restore: ${message}`, { operation: 'restore' });
  if (storage === null || typeof storage !== 'object' || typeof storage.saveState !== 'function') {
    throw refuse('expected a storage (an object with saveState, such as the result of openStorage()).');
  }
  const isStream =
    archive !== null &&
    typeof archive === 'object' &&
    typeof (archive as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
  if (!isStream && (typeof archive !== 'string' || archive.trim() === '')) {
    throw refuse('the archive must be a file path or a Readable stream.');
  }
  if (options === null || typeof options !== 'object') {
    throw refuse("the options must be an object with a mode: { mode: 'merge' } or { mode: 'replace' }.");
  }
  if (options.mode !== 'merge' && options.mode !== 'replace') {
    throw refuse(`mode must be 'merge' or 'replace', got ${JSON.stringify(options.mode)}.`);
  }
  const concurrency = options.concurrency ?? 4;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw refuse(`concurrency must be a whole number >= 1, got ${String(options.concurrency)}.`);
  }
  return {
    mode: options.mode,
    writeHistory: options.history !== false,
    concurrency,
    limits: resolveLimits(options.limits),
  };
}
