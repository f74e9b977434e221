import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { ValidationError } from '../core/errors.js';
import type { PluginStateStorage } from '../core/storage.js';
import type { PluginState } from '../core/types.js';
import { ARCHIVE_FORMAT, ARCHIVE_VERSION, headerLine, recordLine, trailerLine } from './format.js';
import { fileSink, type LineSink, streamSink } from './sink.js';

/** Options of {@link backup}. */
export interface BackupOptions {
  /**
   * Also archive every revision the store keeps in history, not only current states (default
   * false). A storage without history methods contributes its current states only.
   */
  history?: boolean;
  /**
   * What the archive's header says it was taken from (default: the storage's class name, such as
   * `"FileSystemStateStorage"`). Free text for people reading the archive; never put a password here.
   */
  source?: string;
  /** Called after each state is written; a throwing callback is ignored. */
  onProgress?: (progress: BackupProgress) => void;
  /** For a `Writable` destination: end it once the archive is written, as `pipe` does (default true). */
  end?: boolean;
}

export interface BackupProgress {
  /** States written so far. */
  done: number;
  /** States in the backup. */
  total: number;
}

/** What {@link backup} wrote. */
export interface BackupResult {
  /** The archive file's absolute path; undefined when the destination was a stream. */
  path: string | undefined;
  /** When the backup started (the header's `createdAt`). */
  createdAt: Date;
  /** States in the archive (records with `current: true`). */
  states: number;
  /** Record lines: the states and, with `history`, their kept revisions. */
  records: number;
  /**
   * Revisions listed in history that were gone when read (a save during the backup dropped them
   * from history); they are not in the archive.
   */
  vanished: number;
  /** Bytes of the archive. */
  bytes: number;
  /** The trailer's checksum: SHA-256 of the archive up to the trailer line, hex. */
  sha256: string;
}

/**
 * Writes every state of `storage` (and, with `history: true`, every revision it keeps) to one
 * portable, checksummed archive: NDJSON, a header line, one line per record with its own SHA-256,
 * and a trailer with the count and a SHA-256 of everything before it (see `src/backup/format.ts`).
 * Any storage's archive restores into any other with {@link restore}.
 *
 * The store stays in use: nothing is locked beyond what one `listStates`, `listRevisions` or
 * `loadRevision` call locks. Each record is one revision exactly as the storage returned it, so a
 * state saved during the backup is in the archive at one revision it really had (the one listed),
 * never torn; a state created during the backup may be missing. States are written one record at a
 * time, in plugin-id order; `listStates` still reads every current state at once, and each is
 * released as soon as it is written.
 *
 * `destination` is a file path — written durably (temp file, fsync, rename, folder fsync; mode
 * 0600), so the path holds its previous content or the complete archive — or a `Writable`, which
 * is ended afterwards unless `end: false`. A failed backup rejects; a stream then holds an
 * archive without its trailer, which `restore` refuses as truncated.
 *
 * Not in the archive: records `listStates` skips as corrupt (the storage reports them through its
 * `onReport`), and deleted states whose last revision is still kept in history.
 *
 * The archive holds what `storage` returns: backed up through an `encrypted(...)` layer it holds
 * plaintext (keep it like the keys, or back up the inner storage, whose records are the encrypted
 * envelopes, and restore those into an inner storage read under the same keys).
 *
 * @example
 * const result = await backup(storage, '/var/backups/plugin-states.ndjson', {
 *   history: true,
 *   onProgress: ({ done, total }) => process.stderr.write(`\r${done}/${total}`),
 * });
 * console.log(`${result.states} states, ${result.records} records, sha256 ${result.sha256}`);
 */
export async function backup(
  storage: PluginStateStorage,
  destination: string | Writable,
  options: BackupOptions = {},
): Promise<BackupResult> {
  const source = options.source ?? storage?.constructor?.name ?? 'storage';
  checkArguments(storage, destination, options, source);
  const withHistory = options.history === true;
  await storage.open?.();
  const createdAt = new Date();
  const states: Array<PluginState | undefined> = await storage.listStates();
  states.sort((a, b) => (a!.pluginId < b!.pluginId ? -1 : a!.pluginId > b!.pluginId ? 1 : 0));

  const sink: LineSink =
    typeof destination === 'string'
      ? await fileSink(destination)
      : streamSink(destination, options.end !== false);
  const hash = createHash('sha256');
  const result: BackupResult = {
    path: sink.path,
    createdAt,
    states: 0,
    records: 0,
    vanished: 0,
    bytes: 0,
    sha256: '',
  };
  const emit = async (line: string) => {
    hash.update(line);
    result.bytes += Buffer.byteLength(line);
    await sink.write(line);
  };
  const emitRecord = async (state: PluginState, current: boolean) => {
    const meta = {
      pluginId: state.pluginId,
      revision: state.revision ?? 1,
      version: state.version ?? 1,
      lastModified: state.lastModified.toISOString(),
      current,
    };
    await emit(recordLine(meta, JSON.stringify(state.data)));
    result.records++;
  };

  try {
    await emit(
      headerLine({
        format: ARCHIVE_FORMAT,
        version: ARCHIVE_VERSION,
        createdAt: createdAt.toISOString(),
        source,
        history: withHistory,
      }),
    );
    const total = states.length;
    for (let i = 0; i < total; i++) {
      const state = states[i]!;
      states[i] = undefined; // released once written: the archive never needs it again
      if (withHistory) await emitHistory(storage, state, emitRecord, () => result.vanished++);
      await emitRecord(state, true);
      result.states++;
      notify(options.onProgress, { done: i + 1, total });
    }
    result.sha256 = hash.copy().digest('hex');
    const trailer = trailerLine({ records: result.records, states: result.states, sha256: result.sha256 });
    result.bytes += Buffer.byteLength(trailer);
    await sink.write(trailer);
    await sink.finish();
  } catch (error) {
    await sink.abandon();
    throw error;
  }
  return result;
}

/**
 * Writes the kept revisions older than the listed one, oldest first. A revision saved after the
 * listing is left out (the archive holds the state at the listed revision), and one dropped from
 * history before it could be read is counted as vanished.
 */
async function emitHistory(
  storage: PluginStateStorage,
  state: PluginState,
  emitRecord: (state: PluginState, current: boolean) => Promise<void>,
  vanished: () => void,
): Promise<void> {
  if (!storage.listRevisions || !storage.loadRevision) return;
  const listed = state.revision ?? 1;
  const older = (await storage.listRevisions(state.pluginId))
    .map((info) => info.revision)
    .filter((revision) => revision < listed)
    .sort((a, b) => a - b);
  for (const revision of older) {
    const kept = await storage.loadRevision(state.pluginId, revision);
    if (kept) await emitRecord({ ...kept, revision }, false);
    else vanished();
  }
}

function notify(onProgress: BackupOptions['onProgress'], progress: BackupProgress): void {
  try {
    onProgress?.(progress);
  } catch {
    // A host's progress display must not stop a backup half-way.
  }
}

function checkArguments(
  storage: PluginStateStorage,
  destination: unknown,
  options: BackupOptions,
  source: unknown,
): void {
  const refuse = (message: string) => new ValidationError(`backup: ${message}`, { operation: 'backup' });
  if (storage === null || typeof storage !== 'object' || typeof storage.listStates !== 'function') {
    throw refuse('expected a storage (an object with listStates, such as the result of openStorage()).');
  }
  const isStream =
    destination !== null &&
    typeof destination === 'object' &&
    typeof (destination as Writable).write === 'function' &&
    typeof (destination as Writable).on === 'function';
  if (!isStream && (typeof destination !== 'string' || destination.trim() === '')) {
    throw refuse('the destination must be a file path or a Writable stream.');
  }
  if (options === null || typeof options !== 'object') throw refuse('the options must be an object.');
  if (typeof source !== 'string') throw refuse('options.source must be a string.');
}
