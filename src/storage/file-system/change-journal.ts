import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { closeQuietly, errnoCode, type FileSystemApi, writeFully } from './fs-api.js';
import { removeOrRemember } from './leftovers.js';
import { processStart } from './lock.js';

/** Past this size a writer starts a fresh journal; readers then rescan the folder once. */
const ROTATE_BYTES = 1024 * 1024;
export const JOURNAL_FILE = '.changes.log';
/** A line of the journal: one plugin id (ids are canonical lower-case UUIDs). */
const JOURNAL_LINE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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
      // Every byte: a cut line would join the next writer's id, and readers would miss that change.
      writeFully(this.fs, this.writer.fd, line, null);
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
      this.reader = { fd: opened.fd, ino: opened.ino, offset: opened.size };
      return { rescan: true };
    }
    if (current.size === this.reader.offset) return { rescan: false, ids: [] };
    const bytes = Buffer.allocUnsafe(current.size - this.reader.offset);
    const read = this.fs.readSync(this.reader.fd, bytes, 0, bytes.length, this.reader.offset);
    const text = bytes.toString('latin1', 0, read);
    const complete = text.lastIndexOf('\n') + 1; // a line still being appended is read next time
    this.reader.offset += complete;
    const ids = text.slice(0, complete).split('\n');
    ids.pop(); // what follows the last newline: nothing, or a line still being appended
    // A line that is not one id: a writer failed (or died) part-way through its append and the
    // next append joined it, or two appends of writers that wrote in pieces interleaved. The ids
    // it hides are unknown, so the caller rescans the folder: never drop the id that followed.
    if (!ids.every((id) => JOURNAL_LINE.test(id))) return { rescan: true };
    return { rescan: false, ids };
  }

  close(): void {
    try {
      this.closeWriter();
    } finally {
      this.closeReader();
    }
  }

  private rotate(): void {
    const temp = `${this.path}.tmp-${process.pid}-${processStart}-${randomBytes(4).toString('hex')}`;
    const fd = this.fs.openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      this.fs.closeSync(fd);
      this.fs.renameSync(temp, this.path);
    } catch (error) {
      removeOrRemember(this.fs, temp);
      throw error;
    }
    this.closeWriter();
  }

  private openJournal(flags: number): { fd: number; ino: number; size: number } {
    const fd = this.fs.openSync(this.path, flags, 0o600);
    try {
      const stats = this.fs.fstatSync(fd);
      return { fd, ino: stats.ino, size: stats.size };
    } catch (error) {
      closeQuietly(this.fs, fd); // not kept anywhere yet: it would never be closed
      throw error;
    }
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

  // Forgotten before the close: a close that fails has released the descriptor all the same (Linux).
  private closeWriter(): void {
    const writer = this.writer;
    this.writer = undefined;
    if (writer) this.fs.closeSync(writer.fd);
  }

  private closeReader(): void {
    const reader = this.reader;
    this.reader = undefined;
    if (reader) this.fs.closeSync(reader.fd);
  }
}
