import { randomBytes } from 'node:crypto';
import { constants, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageError } from '../../core/errors.js';
import { closeQuietly, errnoCode, type FileSystemApi, writeFully } from './fs-api.js';
import { forgetLeftover, hasLeftoverOf, type Removal, remember, removeOrRemember } from './leftovers.js';

const OWNER_PREFIX = 'plugin-state-lock';
/** A lock whose owner cannot be checked (another host) is taken as abandoned after this long. */
const FOREIGN_STALE_MS = 30_000;

/** When a process started, as the kernel counts it: tells a live owner from a reused pid. */
function processStartTime(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 22 (starttime); the command name in field 2 may hold spaces, so count after its ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const thisHost = hostname();
export const processStart = processStartTime('self') ?? '0';

/**
 * The owner texts of this thread's stores (from their first write until their close), and the
 * locks an operation of this thread holds right now (`<owner text>\n<lock file name>`, taken to
 * released). A lock naming one of these owners that no operation holds was left by a release that
 * failed: this process is alive, so no other process may break it, and it is this thread's to
 * remove (see isAbandoned). Per thread, as module state is: a lock of another thread of this
 * process counts as live, as it may be held (its thread removes it on its next operation or close).
 */
const ownersHere = new Set<string>();
const heldHere = new Set<string>();

function heldKey(owner: string, lockPath: string): string {
  return `${owner}\n${basename(lockPath)}`;
}

/** Removes a lock (or break lock) left by this thread if it still names `owner` and no operation holds it. */
function leftoverLockRemoval(path: string, owner: string): Removal {
  return (fs) => {
    if (heldHere.has(heldKey(owner, path))) return; // taken again: its release removes it
    if (readOwner(fs, path) === owner) fs.unlinkSync(path);
  };
}

interface Owner {
  host: string;
  pid: number;
  start: string;
}

function parseOwner(text: string): Owner | undefined {
  const [prefix, host, pid, start] = text.split(':');
  if (prefix !== OWNER_PREFIX || !host || !pid || !start) return undefined;
  return { host, pid: Number(pid), start };
}

function isAlive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if (errnoCode(error) === 'ESRCH') return false;
  }
  // The pid exists; it is the owner only if it started when the owner did (pids are reused).
  const start = processStartTime(owner.pid);
  return start === undefined || owner.start === '0' || start === owner.start;
}

/**
 * A lock's owner is gone: on this host, its process is dead; elsewhere, it is older than 30 s. A
 * lock of this thread is abandoned when no operation of it holds the lock: its release failed.
 */
function isAbandoned(fs: FileSystemApi, path: string, ownerText: string): boolean {
  if (ownersHere.has(ownerText)) return !heldHere.has(heldKey(ownerText, path));
  const owner = parseOwner(ownerText);
  if (owner && owner.host === thisHost) return !isAlive(owner);
  try {
    // The lock is a hard link to its owner's file: the inode's ctime moves with every link and
    // unlink the owner makes, so it tells when the owner last took or released a lock.
    return Date.now() - fs.lstatSync(path).ctimeMs > FOREIGN_STALE_MS;
  } catch {
    return false;
  }
}

/** The owner text of the lock at `path`, or undefined when there is no lock. */
function readOwner(fs: FileSystemApi, path: string): string | undefined {
  try {
    return fs.readFileSync(path).toString('latin1');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

const OWNER_FILE = /^\.owner-(\d+)-(\d+)-[0-9a-f]+$/;

/**
 * The file that names one store instance as a lock owner (`host:pid:start:nonce`), created once
 * in the store's folder. Taking a lock hard-links it under the lock's name: one atomic `link`
 * call that adds a name but no inode, so it costs ~0.03 ms where creating a lock file (or a
 * symbolic link) measured 0.3–0.7 ms on this machine's disk.
 */
export class LockOwner {
  readonly text =
    `${OWNER_PREFIX}:${thisHost}:${process.pid}:${processStart}:${randomBytes(6).toString('hex')}`;
  readonly path: string;
  private ino: number | undefined;

  constructor(
    private readonly fs: FileSystemApi,
    dir: string,
  ) {
    this.path = join(dir, `.owner-${process.pid}-${processStart}-${this.text.slice(-12)}`);
  }

  /** Creates the owner file if it is not there (it may have been removed by hand). */
  ensure(): void {
    if (this.ino !== undefined) return;
    ownersHere.add(this.text);
    const fd = this.fs.openSync(this.path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
    let ino: number;
    try {
      // Every byte: a cut text names no owner, and a lock linked to it would wait 30 s to be broken.
      writeFully(this.fs, fd, Buffer.from(this.text, 'latin1'), 0);
      ino = this.fs.fstatSync(fd).ino;
    } catch (error) {
      closeQuietly(this.fs, fd);
      this.removeUnfinished();
      throw error;
    }
    try {
      this.fs.closeSync(fd);
    } catch (error) {
      this.removeUnfinished();
      throw error;
    }
    this.ino = ino;
    forgetLeftover(this.path); // made anew after a failed attempt: in use, not to be removed
  }

  /**
   * An owner file whose creation failed: its inode is unknown, so remove() would skip it, and the
   * sweep leaves files of a live process alone. Removed now, or by the next operation or close.
   */
  private removeUnfinished(): void {
    removeOrRemember(this.fs, this.path, (fs) => {
      if (this.ino === undefined) fs.unlinkSync(this.path); // unless a later attempt made it whole
    });
  }

  /** Whether the lock at `path` is this owner's. */
  holds(path: string): boolean {
    try {
      return this.ino !== undefined && this.fs.lstatSync(path).ino === this.ino;
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return false;
      throw error;
    }
  }

  forget(): void {
    this.ino = undefined;
  }

  /** Removes the owner file (on close); what cannot be removed now is retried (leftovers.ts). */
  remove(): void {
    if (this.ino !== undefined) {
      this.ino = undefined;
      removeOrRemember(this.fs, this.path);
    }
    // Known for as long as a lock naming it is left over, so that it can still be removed.
    if (!hasLeftoverOf(this.text)) ownersHere.delete(this.text);
  }
}

/**
 * A cross-process lock on one state file: a hard link of the owner's file under `<state>.lock`.
 * Unlike a lock that goes stale after a timeout, a lock left by a killed process is taken over at
 * once: its owner is checked for life (pid and start time), and breakers take turns under a
 * second lock (`.break`) and re-check, so no live owner's lock is ever removed.
 */
export class FileLock {
  private readonly key: string;

  constructor(
    private readonly fs: FileSystemApi,
    private readonly owner: LockOwner,
    private readonly path: string,
  ) {
    this.key = heldKey(owner.text, path);
  }

  /** Takes the lock, waiting (without blocking the event loop) up to `timeoutMs`. */
  async acquire(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let wait = 0.25;
    for (;;) {
      if (this.tryAcquire()) return;
      if (Date.now() >= deadline) {
        throw new StorageError(
          `timed out after ${timeoutMs} ms waiting for the lock ${this.path}, held by ${this.describeHolder()}. ` +
            'If no process is saving this state, delete the lock file.',
          { location: this.path },
        );
      }
      await sleep(Math.floor(wait));
      wait = Math.min(wait * 2, 8);
    }
  }

  /**
   * Removes the lock. When that fails, the lock stays on disk naming this live process: it is
   * remembered, and removed by the next operation on the folder, by close or by the next open of
   * this thread; until then another store of this thread takes it over (isAbandoned), while other
   * processes wait for it as for any live owner's lock.
   */
  release(): void {
    heldHere.delete(this.key);
    try {
      if (this.owner.holds(this.path)) this.fs.unlinkSync(this.path);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return; // removed meanwhile (by hand): nothing left
      remember(this.path, leftoverLockRemoval(this.path, this.owner.text), this.owner.text);
      throw error;
    }
  }

  /** Removes the lock if its owner is gone (a store opening the folder tidies up so); true if removed. */
  breakIfAbandoned(): boolean {
    const holder = readOwner(this.fs, this.path);
    return holder !== undefined && isAbandoned(this.fs, this.path, holder) && this.breakAbandoned(holder);
  }

  private tryAcquire(): boolean {
    if (!link(this.fs, this.owner, this.path)) {
      // Taken: wait for a live owner; a lock left by a dead one (or by this thread) is removed first.
      if (!this.breakIfAbandoned() || !link(this.fs, this.owner, this.path)) return false;
    }
    heldHere.add(this.key);
    forgetLeftover(this.path);
    return true;
  }

  /**
   * Removes an abandoned lock, re-checking under the break lock that it is still the same one.
   * (A breaker that dies holding the break lock leaves it to be removed the same way; only in that
   * microsecond-wide case can two breakers overlap.)
   */
  private breakAbandoned(holder: string): boolean {
    const breakPath = `${this.path}.break`;
    if (!link(this.fs, this.owner, breakPath)) {
      const breaker = readOwner(this.fs, breakPath);
      if (breaker !== undefined && isAbandoned(this.fs, breakPath, breaker)) {
        if (readOwner(this.fs, breakPath) === breaker) removeIfPresent(this.fs, breakPath);
      }
      return false;
    }
    try {
      if (readOwner(this.fs, this.path) !== holder) return false;
      removeIfPresent(this.fs, this.path);
      return true;
    } finally {
      // A break lock is held only within this synchronous call: one that cannot be removed now is
      // left over, and removed later (leftovers.ts), as a lock whose release failed.
      removeOrRemember(this.fs, breakPath, leftoverLockRemoval(breakPath, this.owner.text), this.owner.text);
    }
  }

  private describeHolder(): string {
    const holder = readOwner(this.fs, this.path);
    const owner = holder && parseOwner(holder);
    return owner ? `process ${owner.pid} on ${owner.host}` : 'an unknown owner';
  }
}

/** `link(owner, path)`: true when taken, false when `path` exists. Recreates a removed owner file. */
function link(fs: FileSystemApi, owner: LockOwner, path: string): boolean {
  owner.ensure();
  try {
    fs.linkSync(owner.path, path);
    return true;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'EEXIST') return false;
    if (code !== 'ENOENT') throw error;
  }
  owner.forget(); // the owner file was removed behind our back: make it again, once
  owner.ensure();
  try {
    fs.linkSync(owner.path, path);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    throw error;
  }
}

function removeIfPresent(fs: FileSystemApi, path: string): void {
  try {
    fs.unlinkSync(path);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
  }
}

/** Whether a live process holds the lock at `path` (a lock left by a dead process is not held). */
export function isLockHeld(fs: FileSystemApi, path: string): boolean {
  const holder = readOwner(fs, path);
  return holder !== undefined && !isAbandoned(fs, path, holder);
}

/**
 * Removes what the locking machinery of dead processes left in a folder: owner files, break
 * locks, and locks (the latter through the same re-checked break as a waiting writer uses).
 */
export function sweepDeadLocks(fs: FileSystemApi, owner: LockOwner, dir: string, names: string[]): void {
  for (const name of names) {
    const path = join(dir, name);
    const ownerFile = OWNER_FILE.exec(name);
    if (ownerFile) {
      if (!isAlive({ host: thisHost, pid: Number(ownerFile[1]), start: ownerFile[2]! }))
        removeIfPresent(fs, path);
    } else if (name.endsWith('.lock.break')) {
      const holder = readOwner(fs, path);
      if (holder !== undefined && isAbandoned(fs, path, holder) && readOwner(fs, path) === holder) {
        removeIfPresent(fs, path);
      }
    } else if (name.endsWith('.lock')) {
      new FileLock(fs, owner, path).breakIfAbandoned();
    }
  }
}

/** Whether the process that wrote a temp file (`…tmp-<pid>-<start>-<nonce>`) is gone. */
export function isWriterGone(pid: number, start: string): boolean {
  return !isAlive({ host: thisHost, pid, start });
}
