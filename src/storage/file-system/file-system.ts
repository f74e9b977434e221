import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { join, resolve } from 'node:path';
import { PluginStateError, SerializationError, StorageError } from '../../core/errors.js';
import { GuardedStorage, type ValidRecord, type WriteConditions } from '../../core/guarded-storage.js';
import type { StorageOptions } from '../../core/storage.js';
import type { PluginId, PluginState, RevisionInfo } from '../../core/types.js';
import { ChangeJournal, JOURNAL_FILE } from './change-journal.js';
import { DirectoryIndex, listWithoutCache } from './directory-index.js';
import { decodeEnvelope, EnvelopeError, encodeEnvelope } from './envelope.js';
import { fileSystemError } from './errors.js';
import { closeQuietly, errnoCode, type FileSystemApi, nodeFileSystem, writeFully } from './fs-api.js';
import { HistoryFiles } from './history.js';
import { HistoryReader } from './history-reader.js';
import { checkStorageHygiene, type UnsafeFolderPolicy } from './hygiene.js';
import { removeOrRemember, retryLeftovers } from './leftovers.js';
import { FileLock, isLockHeld, isWriterGone, LockOwner, processStart, sweepDeadLocks } from './lock.js';
import { inspectStoredFile, type StoredFile } from './stored-file.js';

/** Options of {@link FileSystemStateStorage}; every field has a safe default. */
export interface FileSystemStorageOptions extends StorageOptions {
  /** How long a save or delete waits for another process holding the same state's lock (default 10 s). */
  lockTimeoutMs?: number;
  /**
   * Keep decoded states in memory so `listStates` reads only what changed (Linux only; default true).
   * States over `maxEntryBytes` (default 64 KiB) or past `maxTotalBytes` (default 32 MiB) stay on disk.
   */
  listCache?: boolean | { maxEntryBytes?: number; maxTotalBytes?: number };
  /** The file-system calls to use; tests inject faults through it. Defaults to `node:fs`. */
  fs?: FileSystemApi;
  /**
   * A storage folder that another user owns, or that group or others may write (the folder itself,
   * or one above it without the sticky bit), is refused on open with a `PermissionError` naming it,
   * its mode, its owner and the fix, as ssh refuses such a `~/.ssh` (default `'refuse'`). `'warn'`
   * opens it anyway and sends that error through `onReport`. In a folder other users may enter,
   * state files they may read are reported either way; every file gets mode 0600 on its next save.
   * Not checked on Windows.
   *
   * @example
   * // A folder shared with a group on purpose: open it, but hear about it every time.
   * new FileSystemStateStorage('/srv/team/states', {
   *   unsafeFolder: 'warn',
   *   onReport: (report) => console.warn(report.message),
   * });
   */
  unsafeFolder?: UnsafeFolderPolicy;
}

const STATE_FILE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json$/;
const TEMP_FILE = /\.(?:json|log)\.tmp-(\d+)-(\d+)-[0-9a-f]+$/;
const HELD_LOCK = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json\.lock$/;
const LOCKING_FILE = /\.json\.lock(\.break)?$|^\.owner-/;

/**
 * Stores each plugin's state as one human-readable JSON file, `<baseDir>/<pluginId>.json`.
 *
 * A save is durable and atomic: the new file is written to an exclusive temp file (mode 0600) in
 * the same folder, fsynced, renamed over the old one, and the folder is fsynced; a failed fsync
 * fails the save. Compare-and-set holds across processes: a per-state lock file surrounds the
 * check of the stored revision and the rename. A corrupt file is never deleted: loading it is a
 * `SerializationError` naming it, `listStates` skips it and reports it through `onReport`, and a
 * save over it first moves it aside to `<pluginId>.json.corrupt-<time>`.
 *
 * History (`history` replaced revisions per state, default 10) is kept as hard links beside the
 * state, `<pluginId>.json.~<revision>`, made in the same locked step as the save (see history.ts);
 * a delete keeps the last revision so it can be undone, and `purgeState` removes every one of them.
 * `listRevisions` skips a history file it cannot read and reports it through `onReport`;
 * `loadRevision` of it is a `SerializationError` naming the file.
 *
 * @example
 * const storage = new FileSystemStateStorage('./plugin-states');
 * const saved = await storage.saveState({ pluginId, data: { theme: 'dark' }, lastModified: new Date() });
 * await storage.saveState({ ...saved, data: { theme: 'light' } }, { expectedRevision: saved.revision });
 */
export class FileSystemStateStorage extends GuardedStorage {
  /** The absolute path of the folder holding the state files. */
  readonly baseDir: string;
  private readonly fs: FileSystemApi;
  private readonly lockTimeoutMs: number;
  private readonly unsafeFolder: UnsafeFolderPolicy;
  private readonly journal: ChangeJournal;
  private readonly history: HistoryFiles;
  private readonly historyReader: HistoryReader;
  /** Names this instance in the locks it takes; created on the first write, removed on close. */
  private readonly lockOwner: LockOwner;
  /** Undefined when the list cache is turned off: every list then reads every file. */
  private readonly index: DirectoryIndex | undefined;
  private dirFd: number | undefined;

  constructor(baseDir: string, options: FileSystemStorageOptions = {}) {
    super(options);
    if (typeof baseDir !== 'string' || baseDir.trim() === '') {
      throw new StorageError('FileSystemStateStorage: baseDir must be a non-empty path to a folder.', {
        operation: 'configure',
      });
    }
    this.baseDir = resolve(baseDir);
    this.fs = options.fs ?? nodeFileSystem;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.unsafeFolder = options.unsafeFolder ?? 'refuse';
    if (this.unsafeFolder !== 'refuse' && this.unsafeFolder !== 'warn') {
      throw new StorageError(
        `FileSystemStateStorage: unsafeFolder must be 'refuse' or 'warn', got ${JSON.stringify(options.unsafeFolder)}.`,
        { operation: 'configure' },
      );
    }
    this.journal = new ChangeJournal(this.fs, join(this.baseDir, JOURNAL_FILE));
    this.history = new HistoryFiles(this.fs, this.baseDir);
    this.historyReader = new HistoryReader(this.fs, this.history, this.limits, (report) =>
      this.report(report),
    );
    this.lockOwner = new LockOwner(this.fs, this.baseDir);
    const cache = options.listCache ?? true;
    if (cache !== false) {
      const limits = typeof cache === 'object' ? cache : {};
      this.index = new DirectoryIndex(this.journal, {
        maxEntryBytes: limits.maxEntryBytes ?? 64 * 1024,
        maxTotalBytes: limits.maxTotalBytes ?? 32 * 1024 * 1024,
      });
    }
  }

  protected describeLocation(pluginId?: PluginId): string {
    return pluginId ? this.filePath(pluginId) : this.baseDir;
  }

  protected async openStore(): Promise<void> {
    const { fs } = this;
    try {
      // mode is applied only to folders this call creates; umask cannot widen it.
      fs.mkdirSync(this.baseDir, { recursive: true, mode: 0o700 });
      if (!fs.statSync(this.baseDir).isDirectory()) {
        throw new StorageError(
          `open: ${this.baseDir} exists but is not a folder. Point the storage at a folder.`,
          {
            operation: 'open',
            location: this.baseDir,
          },
        );
      }
      // Before anything in the folder is read, swept or written.
      checkStorageHygiene(fs, this.baseDir, this.unsafeFolder, (report) => this.report(report));
      fs.accessSync(this.baseDir, constants.R_OK | constants.W_OK | constants.X_OK);
      this.dirFd = fs.openSync(this.baseDir, 'r');
      this.sweepLeftovers();
    } catch (error) {
      if (this.dirFd !== undefined) fs.closeSync(this.dirFd);
      this.dirFd = undefined;
      if (error instanceof PluginStateError) throw error;
      throw fileSystemError(error, 'open', this.baseDir, undefined);
    }
  }

  protected async writeRecord(record: ValidRecord, conditions: WriteConditions): Promise<number> {
    const { pluginId } = record;
    const { expectedRevision, maxStoredVersion, keepRevisions } = conditions;
    return this.withLock(pluginId, 'saveState', () => {
      const path = this.filePath(pluginId);
      const { stored, aside } = this.readStored(pluginId, expectedRevision);
      const storedRevision = stored?.header.revision ?? 0;
      if (expectedRevision !== undefined && expectedRevision !== storedRevision) {
        throw this.conflict(pluginId, expectedRevision, storedRevision);
      }
      if (stored && maxStoredVersion !== undefined && stored.header.version > maxStoredVersion) {
        throw this.versionTooNew(pluginId, stored.header.version, maxStoredVersion);
      }
      // The current revision is the highest one; without a current file, history may hold higher.
      const kept = stored ? undefined : this.history.highestKept(pluginId, aside !== undefined);
      const replaced = stored ? storedRevision : kept!.revision;
      const revision = replaced + 1;
      const bytes = encodeEnvelope(
        { pluginId, version: record.version, revision, lastModified: record.lastModified },
        record.dataJson,
      );
      const temp = this.writeTemp(path, bytes);
      const keeps = stored !== undefined && keepRevisions >= 1;
      try {
        // Linked before the rename: the replaced revision is kept exactly when the save happens.
        if (keeps) this.history.keep(path, pluginId, storedRevision, stored);
        this.fs.renameSync(temp, path);
      } catch (error) {
        removeOrRemember(this.fs, temp);
        // A link made for a save that did not happen is a second name of the state file: not kept.
        if (keeps) this.history.unkeep(pluginId, storedRevision, stored.ino);
        throw error;
      }
      this.tidyHistory(pluginId, 'saveState', () => {
        if (kept?.marker) this.history.removeIfPresent(this.history.markerPath(pluginId));
        // Keep revisions replaced - keep + 1 … replaced. With 0 kept, `~<replaced>` exists only as a
        // crash leftover, and older ones kept by an earlier save (keepReplaced) may still be there.
        let top = replaced - keepRevisions;
        if (keepRevisions === 0 && top >= 1 && !this.history.isKept(pluginId, top)) top--;
        this.history.dropThrough(pluginId, top);
      });
      this.syncFolderAfterChange(pluginId, 'saveState', `the new state was written to ${path}`);
      if (aside) this.reportMovedAside(pluginId, aside, revision);
      return revision;
    });
  }

  protected async readRecord(pluginId: PluginId): Promise<PluginState | undefined> {
    return this.readFile(pluginId, 'loadState')?.state;
  }

  protected async removeRecord(pluginId: PluginId, keepRevisions: number): Promise<void> {
    await this.withLock(pluginId, 'deleteState', () => {
      const path = this.filePath(pluginId);
      const { history } = this;
      let stored: StoredFile | undefined;
      try {
        stored = inspectStoredFile(this.fs, path, pluginId);
        if (!stored) {
          // Maybe the repeat that the error of an earlier delete asked for: it removed the state,
          // then failed to sync the folder. Only an fsync makes that removal durable, and nothing
          // here tells such a repeat from a delete of a state never saved (a rare call: ~0.1 ms).
          this.syncFolderAfterChange(pluginId, 'deleteState', `no state is stored at ${path}`);
          return;
        }
      } catch (error) {
        if (!(error instanceof EnvelopeError)) throw error;
        // A corrupt state file: the user's explicit delete removes it. Its revision is unknown, so
        // it cannot go into history; the numbering goes on from the highest revision kept.
        if (keepRevisions === 0) {
          history.removeAll(pluginId);
        } else {
          const top = history.revisionsOnDisk(pluginId).at(-1);
          if (top !== undefined) history.markAt(pluginId, top);
        }
        this.fs.unlinkSync(path);
        this.syncFolderAfterChange(pluginId, 'deleteState', `the corrupt file ${path} was removed`);
        return;
      }
      const revision = stored.header.revision;
      if (keepRevisions >= 1) {
        history.keep(path, pluginId, revision, stored);
        try {
          history.markDeleted(path, pluginId);
        } catch (error) {
          history.unkeep(pluginId, revision, stored.ino); // the state stays, so it is not kept twice
          throw error;
        }
        this.tidyHistory(pluginId, 'deleteState', () =>
          history.dropThrough(pluginId, revision - keepRevisions),
        );
      } else {
        // Nothing is kept, so numbering starts again at 1: every kept revision and the marker go
        // first, the state file last (a crash in between leaves the state, still numbered).
        const top = history.isKept(pluginId, revision) ? revision : revision - 1;
        history.dropThrough(pluginId, top);
        history.removeIfPresent(history.markerPath(pluginId));
        this.fs.unlinkSync(path);
      }
      this.syncFolderAfterChange(pluginId, 'deleteState', `${path} was removed`);
    });
  }

  protected async listRecordRevisions(pluginId: PluginId): Promise<RevisionInfo[]> {
    // Without the state's lock: a process saving in a tight loop would starve a reader waiting for
    // it. A save of another process may drop a revision while the folder is read: the list shows
    // at most `history` kept revisions (1 with history 0, for a keepReplaced save), the newest.
    return this.historyReader.list(pluginId, Math.max(this.historyLimit, 1));
  }

  protected async readRecordRevision(pluginId: PluginId, revision: number): Promise<PluginState | undefined> {
    let current: StoredFile | undefined;
    try {
      current = inspectStoredFile(this.fs, this.filePath(pluginId), pluginId);
    } catch (error) {
      if (!(error instanceof EnvelopeError))
        throw fileSystemError(error, 'loadRevision', this.filePath(pluginId), pluginId);
      // A corrupt state file has no revision to compare: look in history only.
    }
    const currentRevision = current?.header.revision;
    if (currentRevision === revision) {
      const found = this.readFile(pluginId, 'loadRevision');
      if (found?.state.revision === revision) return found.state;
      // Replaced by another process meanwhile: it linked this revision into history before its rename.
    } else if (currentRevision !== undefined && revision > currentRevision) {
      return undefined;
    }
    return this.historyReader.read(pluginId, revision);
  }

  protected async purgeRecord(pluginId: PluginId): Promise<void> {
    await this.withLock(pluginId, 'purgeState', () => {
      // History first (lowest revision first, then the marker), the state file last: a crash in the
      // middle leaves the newest revisions and a numbering that still holds.
      let removed = this.history.removeAll(pluginId);
      removed = this.history.removeIfPresent(this.filePath(pluginId)) || removed;
      // Synced even when nothing was left to remove: a repeated purge (after one whose folder
      // fsync failed) must make the earlier removals durable, as a repeated delete does.
      this.syncFolderAfterChange(
        pluginId,
        'purgeState',
        removed ? `the files of ${pluginId} were removed` : `no file of ${pluginId} is left`,
      );
    });
  }

  protected async readAllRecords(): Promise<PluginState[]> {
    const read = (id: PluginId) => this.readFile(id, 'listStates');
    const { states, corrupt } = this.index
      ? this.index.list(
          () => this.scanFolder(),
          read,
          (id) => isLockHeld(this.fs, `${this.filePath(id)}.lock`),
        )
      : listWithoutCache(this.scanFolder().ids, read);
    this.reportSkipped(corrupt);
    return states;
  }

  protected async closeStore(): Promise<void> {
    this.index?.clear();
    try {
      this.journal.close();
    } finally {
      // Files whose removal failed (temp files, locks): the faults may be gone by now. Neither
      // this nor the owner file's removal throws: what still fails is retried by the next open.
      retryLeftovers(this.fs, this.baseDir);
      this.lockOwner.remove();
      const dirFd = this.dirFd;
      this.dirFd = undefined;
      if (dirFd !== undefined) this.fs.closeSync(dirFd);
    }
  }

  private scanFolder(): { ids: PluginId[]; locked: PluginId[] } {
    const ids: PluginId[] = [];
    const locked: PluginId[] = [];
    for (const name of this.fs.readdirSync(this.baseDir)) {
      const state = STATE_FILE.exec(name);
      if (state) ids.push(state[1]!);
      else {
        const lock = HELD_LOCK.exec(name);
        if (lock) locked.push(lock[1]!);
      }
    }
    return { ids, locked };
  }

  private filePath(pluginId: PluginId): string {
    return join(this.baseDir, `${pluginId}.json`);
  }

  /** Runs a write under the state's cross-process lock, mapping system errors to typed ones. */
  private async withLock<T>(pluginId: PluginId, operation: string, task: () => T): Promise<T> {
    // What earlier operations failed to remove (temp files, locks): no call unless there is some.
    retryLeftovers(this.fs, this.baseDir);
    const lock = new FileLock(this.fs, this.lockOwner, `${this.filePath(pluginId)}.lock`);
    try {
      await lock.acquire(this.lockTimeoutMs);
    } catch (error) {
      throw error instanceof StorageError
        ? new StorageError(`${operation} of plugin ${pluginId}: ${error.message}`, {
            pluginId,
            operation,
            location: error.location,
          })
        : fileSystemError(error, operation, this.filePath(pluginId), pluginId);
    }
    try {
      // Before anything changes on disk: list caches of other processes must hear of it first.
      this.journal.recordIntent(pluginId);
      return task();
    } catch (error) {
      if (error instanceof PluginStateError) throw error;
      throw fileSystemError(error, operation, this.filePath(pluginId), pluginId);
    } finally {
      this.releaseLock(lock, pluginId, operation);
    }
  }

  /**
   * A lock that cannot be removed must not turn a durable, finished save into a failure; it is
   * reported. The next operation on the folder (or close, or the next open) of this thread removes
   * it; until then stores of this thread take it over, and other processes wait for it.
   */
  private releaseLock(lock: FileLock, pluginId: PluginId, operation: string): void {
    try {
      lock.release();
    } catch (error) {
      this.report({
        operation,
        pluginId,
        code: 'STORAGE',
        error,
        recovered: false,
        message:
          `${operation} of plugin ${pluginId} could not remove its lock file: ${String(error)}. ` +
          'It is removed by the next operation on the folder or by close; until then other processes wait for it.',
      });
    }
  }

  /** Reads and decodes one state file; undefined when there is none. */
  private readFile(pluginId: PluginId, operation: string): { state: PluginState; bytes: number } | undefined {
    const path = this.filePath(pluginId);
    let bytes: Buffer;
    try {
      bytes = this.fs.readFileSync(path);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw fileSystemError(error, operation, path, pluginId);
    }
    try {
      return { state: decodeEnvelope(bytes, pluginId, this.limits), bytes: bytes.length };
    } catch (error) {
      if (!(error instanceof EnvelopeError)) throw error;
      throw new SerializationError(
        `${operation}: the state file of plugin ${pluginId} is corrupt: ${error.message}. It is kept as is at ${path}; ` +
          'restore it from a backup, or delete the state (deleteState) to start over.',
        { pluginId, operation, location: path, cause: error },
      );
    }
  }

  /**
   * What a save must know of the state it replaces: its revision, version and inode, and that it is
   * intact. A corrupt file is moved aside (never deleted) when the save does not depend on its revision.
   */
  private readStored(
    pluginId: PluginId,
    expectedRevision: number | undefined,
  ): { stored?: StoredFile; aside?: { path: string; problem: Error } } {
    const path = this.filePath(pluginId);
    let problem: Error;
    try {
      const stored = inspectStoredFile(this.fs, path, pluginId);
      return stored ? { stored } : {};
    } catch (error) {
      if (!(error instanceof EnvelopeError)) throw error;
      problem = error;
    }
    if (expectedRevision !== undefined) {
      throw new SerializationError(
        `saveState: the stored state file of plugin ${pluginId} is corrupt (${problem.message}), so its revision cannot be ` +
          `compared with expectedRevision ${expectedRevision}. It is kept at ${path}; save without expectedRevision to ` +
          'replace it (the corrupt file is then moved aside), or delete the state first.',
        { pluginId, operation: 'saveState', location: path, cause: problem },
      );
    }
    const aside = `${path}.corrupt-${new Date().toISOString().replaceAll(':', '-')}`;
    this.fs.renameSync(path, aside);
    this.fs.fsyncSync(this.dirFd!);
    return { aside: { path: aside, problem } };
  }

  private reportMovedAside(
    pluginId: PluginId,
    aside: { path: string; problem: Error },
    revision: number,
  ): void {
    this.report({
      operation: 'saveState',
      pluginId,
      code: 'SERIALIZATION',
      error: aside.problem,
      recovered: true,
      message: `saveState found the state file of plugin ${pluginId} corrupt (${aside.problem.message}); it was moved to ${aside.path} and the new state saved as revision ${revision}.`,
    });
  }

  /** Temp file (exclusive, 0600) → every byte written → fsync; the caller renames it into place. */
  private writeTemp(path: string, bytes: Buffer): string {
    const { fs } = this;
    const temp = `${path}.tmp-${process.pid}-${processStart}-${randomBytes(4).toString('hex')}`;
    const fd = fs.openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeFully(fs, fd, bytes, 0); // a plain Error on no progress: withLock names plugin and operation
      fs.fsyncSync(fd);
    } catch (error) {
      closeQuietly(fs, fd); // the write's or the fsync's error is the one to report
      removeOrRemember(fs, temp);
      throw error;
    }
    try {
      fs.closeSync(fd);
    } catch (error) {
      removeOrRemember(fs, temp);
      throw error;
    }
    return temp;
  }

  /**
   * Drops history beyond what is kept, after the change itself is done. Its failure does not fail
   * the finished save or delete (one revision too many stays until the next one tidies it): it is
   * reported instead.
   */
  private tidyHistory(pluginId: PluginId, operation: string, tidy: () => void): void {
    try {
      tidy();
    } catch (error) {
      this.report({
        operation,
        pluginId,
        code: 'STORAGE',
        error,
        recovered: true,
        message: `${operation} of plugin ${pluginId} could not drop old revisions from ${this.baseDir}: ${String(error)}; the next save tries again.`,
      });
    }
  }

  /**
   * Fsyncs the folder once a rename or unlink has already changed what is stored. Its failure still
   * fails the call, but must not be reported as "the previous state is unchanged": it is not.
   */
  private syncFolderAfterChange(pluginId: PluginId, operation: string, done: string): void {
    try {
      this.fs.fsyncSync(this.dirFd!);
    } catch (error) {
      const reason = errnoCode(error) ?? (error instanceof Error ? error.message : String(error));
      throw new StorageError(
        `${operation} of plugin ${pluginId}: ${done}, but syncing the folder ${this.baseDir} failed (${reason}), ` +
          'so the change may not survive a power cut. Check the disk (is it full or failing?), then repeat the call.',
        { pluginId, operation, location: this.filePath(pluginId), cause: error },
      );
    }
  }

  /**
   * Removes temp files and locks left by processes that died mid-save, and what this thread failed
   * to remove earlier (leftovers.ts: no operation of it is using those). A temp file of another
   * live process, or of another thread of this one, may be in use: it stays.
   */
  private sweepLeftovers(): void {
    retryLeftovers(this.fs, this.baseDir);
    const locking: string[] = [];
    for (const name of this.fs.readdirSync(this.baseDir)) {
      const temp = TEMP_FILE.exec(name);
      if (temp) {
        if (isWriterGone(Number(temp[1]), temp[2]!)) removeQuietly(this.fs, join(this.baseDir, name));
      } else if (LOCKING_FILE.test(name)) {
        locking.push(name);
      }
    }
    sweepDeadLocks(this.fs, this.lockOwner, this.baseDir, locking);
  }
}

function removeQuietly(fs: FileSystemApi, path: string): void {
  try {
    fs.unlinkSync(path);
  } catch {
    // already gone, or not ours to remove: either way nothing to do
  }
}
