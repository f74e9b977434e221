import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { errnoCode, type FileSystemApi } from './fs-api.js';
import { processStart } from './lock.js';

/** Past this size a writer starts a fresh journal; readers then rescan the folder once. */
const ROTATE_BYTES = 1024 * 1024;
export const JOURNAL_FILE = '.changes.log';

/** What changed since a reader last looked. */
export type JournalChanges = { rescan: true } | { rescan: false; ids: string[] };

/**
 * An append-only list of the ids that writers are about to change, shared by every process using
 * a folder: how a `listStates` cache learns what other processes wrote without reading every file.
 *
 * A writer appends the id while it holds the state's lock, before the rename that publishes the
 * change; a reader that finds the id re-reads that file, and keeps re-reading it while the lock is
 * held, so it cannot cache a state that is about to be replaced. The journal is a cache hint, not
 * a record of data: it is never fsynced (after a power cut every cache starts empty anyway), and
 * a reader that finds it replaced, shortened or missing rescans the whole folder.
 */
export class ChangeJournal {
  private writer: { fd: number; ino: number } | undefined;
  private reader: { fd: number; ino: number; offset: number } | undefined;

  constructor(
    private readonly fs: FileSystemApi,
    private readonly path: string,
    private readonly rotateBytes = ROTATE_BYTES,
  ) {}

  /** Records that `id` is about to change. Call it while holding the state's lock. */
  recordIntent(id: string): void {
    const line = Buffer.from(`${id}\n`, 'latin1');
    // A journal rotated between our append and our check: append again to the current one.
    for (let attempt = 0; attempt < 5; attempt++) {
      this.writer ??= this.openJournal(constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT);
      this.fs.writeSync(this.writer.fd, line, 0, line.length, null);
      const current = this.statPath();
      if (current && current.ino === this.writer.ino) {
        if (current.size > this.rotateBytes) this.rotate();
        return;
      }
      this.closeWriter();
    }
  }

  /** The ids recorded since the last call, or `rescan` when the reader cannot know them. */
  readChanges(): JournalChanges {
    const current = this.statPath();
    if (!this.reader || !current || current.ino !== this.reader.ino || current.size < this.reader.offset) {
      this.closeReader();
      // Opened before the caller rescans, so nothing recorded during the rescan is missed.
      const opened = this.openJournal(constants.O_RDONLY | constants.O_CREAT);
      this.reader = { ...opened, offset: this.fs.fstatSync(opened.fd).size };
      return { rescan: true };
    }
    if (current.size === this.reader.offset) return { rescan: false, ids: [] };
    const bytes = Buffer.allocUnsafe(current.size - this.reader.offset);
    const read = this.fs.readSync(this.reader.fd, bytes, 0, bytes.length, this.reader.offset);
    const text = bytes.toString('latin1', 0, read);
    const complete = text.lastIndexOf('\n') + 1; // a line still being appended is read next time
    this.reader.offset += complete;
    return { rescan: false, ids: text.slice(0, complete).split('\n', -1).slice(0, -1) };
  }

  close(): void {
    this.closeWriter();
    this.closeReader();
  }

  private rotate(): void {
    const temp = `${this.path}.tmp-${process.pid}-${processStart}-${randomBytes(4).toString('hex')}`;
    this.fs.closeSync(
      this.fs.openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600),
    );
    this.fs.renameSync(temp, this.path);
    this.closeWriter();
  }

  private openJournal(flags: number): { fd: number; ino: number } {
    const fd = this.fs.openSync(this.path, flags, 0o600);
    return { fd, ino: this.fs.fstatSync(fd).ino };
  }

  private statPath(): { ino: number; size: number } | undefined {
    try {
      const stats = this.fs.statSync(this.path);
      return { ino: stats.ino, size: stats.size };
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw error;
    }
  }

  private closeWriter(): void {
    if (this.writer) this.fs.closeSync(this.writer.fd);
    this.writer = undefined;
  }

  private closeReader(): void {
    if (this.reader) this.fs.closeSync(this.reader.fd);
    this.reader = undefined;
  }
}
