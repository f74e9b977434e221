import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { join, resolve } from 'node:path';
import { PluginStateError, SerializationError, StorageError } from '../../core/errors.js';
import { GuardedStorage, type ValidRecord } from '../../core/guarded-storage.js';
import type { StorageOptions } from '../../core/storage.js';
import type { PluginId, PluginState } from '../../core/types.js';
import { ChangeJournal, JOURNAL_FILE } from './change-journal.js';
import { DirectoryIndex, listWithoutCache } from './directory-index.js';
import {
  checkStoredFile,
  decodeEnvelope,
  decodeHeader,
  EnvelopeError,
  type EnvelopeHeader,
  encodeEnvelope,
  HEADER_READ_BYTES,
  TRAILER_BYTES,
} from './envelope.js';
import { fileSystemError } from './errors.js';
import { errnoCode, type FileSystemApi, nodeFileSystem } from './fs-api.js';
import { checkStorageHygiene, type UnsafeFolderPolicy } from './hygiene.js';
import { FileLock, isLockHeld, isWriterGone, LockOwner, processStart, sweepDeadLocks } from './lock.js';

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
/** Files up to this size are fully decoded before being replaced, so any corruption is noticed. */
const FULL_CHECK_BYTES = 16 * 1024;

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

  protected async writeRecord(record: ValidRecord, expectedRevision: number | undefined): Promise<number> {
    return this.withLock(record.pluginId, 'saveState', () => {
      const stored = this.readStoredHeader(record.pluginId, expectedRevision);
      const storedRevision = stored?.revision ?? 0;
      if (expectedRevision !== undefined && expectedRevision !== storedRevision) {
        throw this.conflict(record.pluginId, expectedRevision, storedRevision);
      }
      const revision = storedRevision + 1;
      const bytes = encodeEnvelope(
        { pluginId: record.pluginId, version: record.version, revision, lastModified: record.lastModified },
        record.dataJson,
      );
      this.writeDurably(record.pluginId, bytes);
      return revision;
    });
  }

  protected async readRecord(pluginId: PluginId): Promise<PluginState | undefined> {
    return this.readFile(pluginId, 'loadState')?.state;
  }

  protected async removeRecord(pluginId: PluginId): Promise<void> {
    await this.withLock(pluginId, 'deleteState', () => {
      try {
        this.fs.unlinkSync(this.filePath(pluginId));
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') return;
        throw error;
      }
      this.syncFolderAfterChange(pluginId, 'deleteState', `${this.filePath(pluginId)} was removed`);
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
    this.journal.close();
    this.lockOwner.remove();
    if (this.dirFd !== undefined) this.fs.closeSync(this.dirFd);
    this.dirFd = undefined;
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
   * reported, and other writers take it over once this process is gone.
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
        message: `${operation} of plugin ${pluginId} could not remove its lock file: ${String(error)}`,
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
   * What a save must know of the state it replaces: its revision, and that it is intact. A corrupt
   * file is moved aside (never deleted) when the save does not depend on its revision.
   */
  private readStoredHeader(
    pluginId: PluginId,
    expectedRevision: number | undefined,
  ): EnvelopeHeader | undefined {
    const path = this.filePath(pluginId);
    let fd: number;
    try {
      fd = this.fs.openSync(path, 'r');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw error;
    }
    let problem: Error;
    try {
      const size = this.fs.fstatSync(fd).size;
      if (size <= FULL_CHECK_BYTES) {
        const bytes = Buffer.allocUnsafe(size);
        readFully(this.fs, fd, bytes, 0);
        return checkStoredFile(bytes, pluginId);
      }
      const head = Buffer.allocUnsafe(HEADER_READ_BYTES);
      const tail = Buffer.allocUnsafe(TRAILER_BYTES);
      readFully(this.fs, fd, head, 0);
      readFully(this.fs, fd, tail, size - TRAILER_BYTES);
      return decodeHeader(head, tail, pluginId);
    } catch (error) {
      if (!(error instanceof EnvelopeError)) throw error;
      problem = error;
    } finally {
      this.fs.closeSync(fd);
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
    this.report({
      operation: 'saveState',
      pluginId,
      code: 'SERIALIZATION',
      error: problem,
      recovered: true,
      message: `saveState found the state file of plugin ${pluginId} corrupt (${problem.message}); it was moved to ${aside} and the new state saved as revision 1.`,
    });
    return undefined;
  }

  /** Temp file (exclusive, 0600) → every byte written → fsync → rename → fsync of the folder. */
  private writeDurably(pluginId: PluginId, bytes: Buffer): void {
    const { fs } = this;
    const path = this.filePath(pluginId);
    const temp = `${path}.tmp-${process.pid}-${processStart}-${randomBytes(4).toString('hex')}`;
    const fd = fs.openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    let renamed = false;
    try {
      try {
        let offset = 0;
        while (offset < bytes.length) {
          const written = fs.writeSync(fd, bytes, offset, bytes.length - offset, offset);
          // A plain Error, so that withLock names the plugin and the operation in the StorageError.
          if (written <= 0) throw new Error(`the write to ${temp} made no progress (0 bytes written)`);
          offset += written;
        }
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temp, path);
      renamed = true;
      this.syncFolderAfterChange(pluginId, 'saveState', `the new state was written to ${path}`);
    } catch (error) {
      if (!renamed) removeQuietly(fs, temp);
      throw error;
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

  /** Removes temp files and locks left by processes that died mid-save. */
  private sweepLeftovers(): void {
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

function readFully(fs: FileSystemApi, fd: number, buffer: Buffer, position: number): void {
  let offset = 0;
  while (offset < buffer.length) {
    const read = fs.readSync(fd, buffer, offset, buffer.length - offset, position + offset);
    if (read === 0) throw new EnvelopeError('the file is cut short (it ended while being read)');
    offset += read;
  }
}

function removeQuietly(fs: FileSystemApi, path: string): void {
  try {
    fs.unlinkSync(path);
  } catch {
    // already gone, or not ours to remove: either way nothing to do
  }
}
