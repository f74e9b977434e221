// The history of the file backend: the replaced revisions of `<id>.json`, kept as hard links beside it.
//
// Layout, in the storage folder, for one id:
//   <id>.json          the current revision (absent after a delete)
//   <id>.json.~<n>     revision n, kept in history: a hard link to the file that held it
//   <id>.json.~last    only after a delete: a second link to the deleted (highest) revision
//
// Keeping a revision costs one `link` of the current file, made right before the rename that
// replaces it, inside the same lock: no copy, no extra fsync (the folder fsync the save already
// does makes both names durable at once). History files keep the inode, so its mode (0600) too.
//
// Why it is crash-safe: the link comes before the rename, so a crash between them leaves `~<n>` as
// a second name of the current file (same inode, same revision n); it is never listed twice (a
// listing skips `~<n>` at or above the current revision), and the next save finds it with EEXIST,
// sees the same inode and goes on. A `~<n>` that is another file (left by hand, or by a version of
// the library without history) is replaced atomically (link to a temp name, rename over it),
// unless it holds another revision n: then the numbering went wrong somewhere, and the save fails
// rather than destroy a kept revision.
// Removals run lowest revision first and the current file (or the marker) last, so a crash in the
// middle leaves the newest revisions, never a gap below the current one.
//
// Why a marker: a new revision is 1 + the highest revision stored or kept, and a save that finds no
// current file must learn it without scanning the folder — the benchmarks save 10,000 new ids, and
// a `readdir` per first save would grow with the folder. A delete therefore renames `<id>.json` to
// `<id>.json.~last` (after linking it as `~<n>`): one atomic rename that removes the state and
// leaves the marker, so there is no moment without either. A save that finds no current file looks
// for `~last` (one `lstat` that builds no Error when absent: the new-id case; any other error fails
// the save, as "absent" would number it from 1 beside the old revisions), reads the marker's
// header when it is there, and unlinks the marker once the new current file is in place. A
// marker left by a crash beside a current file is harmless: the current file gives the numbering,
// listings ignore the marker, and the next delete replaces it.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { EnvelopeError } from './envelope.js';
import { errnoCode, type FileSystemApi } from './fs-api.js';
import { removeOrRemember } from './leftovers.js';
import { processStart } from './lock.js';
import { inspectStoredFile } from './stored-file.js';

/** `<id>.json.~<revision>`: a revision kept in history. */
const HISTORY_FILE =
  /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json\.~([1-9][0-9]{0,15})$/;
const MARKER_SUFFIX = '.json.~last';

export class HistoryFiles {
  constructor(
    private readonly fs: FileSystemApi,
    private readonly baseDir: string,
  ) {}

  /** The state file itself, `<id>.json`. */
  currentPath(pluginId: string): string {
    return join(this.baseDir, `${pluginId}.json`);
  }

  /** Where revision `revision` of the id is kept. */
  path(pluginId: string, revision: number): string {
    return join(this.baseDir, `${pluginId}.json.~${revision}`);
  }

  /** The marker a delete leaves: a link to the deleted revision. */
  markerPath(pluginId: string): string {
    return join(this.baseDir, `${pluginId}${MARKER_SUFFIX}`);
  }

  /** Whether revision `revision` of the id is kept; throws when that cannot be told (EIO, EACCES…). */
  isKept(pluginId: string, revision: number): boolean {
    return this.exists(this.path(pluginId, revision));
  }

  /**
   * Keeps the current file (`stored`, of revision `revision`) in history, right before the rename
   * that replaces it. A `~<revision>` already there is fine when it is this file (a crash between
   * an earlier link and its rename left it); any other file there is replaced.
   */
  keep(currentPath: string, pluginId: string, revision: number, stored: { ino: number; mode: number }): void {
    const target = this.path(pluginId, revision);
    try {
      this.fs.linkSync(currentPath, target);
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
      if (this.inodeOf(target) !== stored.ino) {
        this.refuseToOverwrite(currentPath, target, pluginId, revision);
        this.replaceWithLink(currentPath, target);
      }
    }
    // A state file others may read (written by hand or by an older version) would have become
    // 0600 with its next save; kept in history it must not stay readable. Never the case for a
    // file this library wrote. Where the mode cannot be changed (another user's file), it stays.
    if ((stored.mode & 0o077) !== 0 && process.platform !== 'win32') {
      try {
        this.fs.chmodSync(target, 0o600);
      } catch {
        // Another user's file, in a folder opened with unsafeFolder 'warn': it stays as it was.
      }
    }
  }

  /**
   * Undoes {@link keep} after the change it was made for failed: removes `~<revision>` if it is
   * still the state file (inode `ino`). Never throws: the failure being handled is what matters.
   */
  unkeep(pluginId: string, revision: number, ino: number): void {
    const path = this.path(pluginId, revision);
    try {
      if (this.inodeOf(path) === ino) this.fs.unlinkSync(path);
    } catch {
      // left as a second name of the state file: harmless, listed once, reused by the next save
    }
  }

  /**
   * Deletes the current file, leaving the marker: the caller has already linked it as
   * `~<revision>`. One rename, so the state is either stored or marked deleted, never neither.
   */
  markDeleted(currentPath: string, pluginId: string): void {
    this.fs.renameSync(currentPath, this.markerPath(pluginId));
  }

  /** Points the marker at a kept revision (a delete of a corrupt current file, whose revision is unknown). */
  markAt(pluginId: string, revision: number): void {
    this.replaceWithLink(this.path(pluginId, revision), this.markerPath(pluginId));
  }

  /**
   * The highest revision kept for an id that has no current file, and whether the marker holds it.
   * Cheap when nothing was deleted (one `lstat` of the marker); `scan` (after a corrupt current
   * file was moved aside, whose revision is unknown) also looks at every `~<n>` in the folder.
   */
  highestKept(pluginId: string, scan: boolean): { revision: number; marker: boolean } {
    const markerPath = this.markerPath(pluginId);
    let marked = 0;
    let marker = false;
    if (this.exists(markerPath)) {
      marker = true;
      try {
        marked = inspectStoredFile(this.fs, markerPath, pluginId)?.header.revision ?? 0;
      } catch (error) {
        if (!(error instanceof EnvelopeError)) throw error;
        scan = true; // an unreadable marker: the names in the folder still tell the numbering
      }
    }
    if (!scan) return { revision: marked, marker };
    return { revision: Math.max(marked, this.revisionsOnDisk(pluginId).at(-1) ?? 0), marker };
  }

  /**
   * Removes the kept revisions `top` and below, lowest first (a crash leaves the newest, not a
   * gap). History is a run of consecutive revisions, so the run ends at the first one missing:
   * in the steady state this is two `lstat` calls and one `unlink`, never a folder scan.
   */
  dropThrough(pluginId: string, top: number): void {
    // A lookup that fails throws (the caller reports it) rather than end the run early, which
    // would leave the revisions below it out of every later drop.
    if (top < 1 || !this.isKept(pluginId, top)) return;
    let low = top;
    while (low > 1 && this.isKept(pluginId, low - 1)) low--;
    for (let revision = low; revision <= top; revision++) this.removeIfPresent(this.path(pluginId, revision));
  }

  /**
   * The revisions with a `~<n>` file, ascending. Scans the folder: for listings, purges and the
   * rare saves that cannot know the numbering otherwise.
   */
  revisionsOnDisk(pluginId: string): number[] {
    const revisions: number[] = [];
    for (const name of this.fs.readdirSync(this.baseDir)) {
      if (!name.startsWith(pluginId)) continue;
      const match = HISTORY_FILE.exec(name);
      if (match && match[1] === pluginId) revisions.push(Number(match[2]));
    }
    return revisions.sort((a, b) => a - b);
  }

  /** Removes every kept revision (lowest first), then the marker; true when anything was removed. */
  removeAll(pluginId: string): boolean {
    let removed = false;
    for (const revision of this.revisionsOnDisk(pluginId)) {
      removed = this.removeIfPresent(this.path(pluginId, revision)) || removed;
    }
    return this.removeIfPresent(this.markerPath(pluginId)) || removed;
  }

  /** Unlinks a path; false when it was not there. */
  removeIfPresent(path: string): boolean {
    try {
      this.fs.unlinkSync(path);
      return true;
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return false;
      throw error;
    }
  }

  /** Whether `path` exists: false only on ENOENT, any other error throws (never "absent" by mistake). */
  private exists(path: string): boolean {
    return this.fs.lstatIfExistsSync(path) !== undefined;
  }

  /**
   * A `~<revision>` that is another file than the current one may be replaced only when it is no
   * kept revision `revision` of another content: a stray, a corrupt file, or a copy of the same
   * bytes (a backup restored without its hard links). Two different revisions of one number mean
   * the numbering went wrong; the kept one is never overwritten: the change fails, nothing changed.
   */
  private refuseToOverwrite(currentPath: string, target: string, pluginId: string, revision: number): void {
    let kept: number | undefined;
    try {
      kept = inspectStoredFile(this.fs, target, pluginId)?.header.revision;
    } catch (error) {
      if (!(error instanceof EnvelopeError)) throw error;
      return; // corrupt: not a kept revision (listings leave it out), replaced as a stray
    }
    if (kept !== revision) return;
    if (this.fs.readFileSync(target).equals(this.fs.readFileSync(currentPath))) return;
    // A plain Error: the caller names the plugin and the operation in the StorageError.
    throw new Error(
      `${target} already keeps a different revision ${revision} than the one stored in ${currentPath}. ` +
        'It is kept as is and nothing was changed: move one of the two out of the folder, then repeat the call',
    );
  }

  private inodeOf(path: string): number | undefined {
    try {
      return this.fs.lstatSync(path).ino;
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Makes `target` a link to `source`, atomically replacing whatever `target` was. */
  private replaceWithLink(source: string, target: string): void {
    // A temp name the open-time sweep removes if this process dies before the rename.
    const temp = `${target.slice(0, target.lastIndexOf('.json') + 5)}.tmp-${process.pid}-${processStart}-${randomBytes(4).toString('hex')}`;
    this.fs.linkSync(source, temp);
    try {
      this.fs.renameSync(temp, target);
    } catch (error) {
      removeOrRemember(this.fs, temp); // the rename's error is the one to report
      throw error;
    }
  }
}
