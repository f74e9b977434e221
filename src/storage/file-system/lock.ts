import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageError } from '../../core/errors.js';
import { errnoCode, type FileSystemApi } from './fs-api.js';

const LOCK_PREFIX = 'plugin-state-lock';
/** A lock whose owner cannot be checked (another host) is taken as abandoned after this long. */
const FOREIGN_STALE_MS = 30_000;

/** When this process started, as the kernel counts it: tells a live owner from a reused pid. */
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
const thisStart = processStartTime('self') ?? '0';

interface LockOwner {
  host: string;
  pid: number;
  start: string;
}

function parseOwner(target: string): LockOwner | undefined {
  const [prefix, host, pid, start] = target.split(':');
  if (prefix !== LOCK_PREFIX || !host || !pid || !start) return undefined;
  return { host, pid: Number(pid), start };
}

function isAlive(owner: LockOwner): boolean {
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
 * A cross-process lock on one state file: a symbolic link whose target names its owner
 * (`host:pid:start:nonce`), created in one atomic `symlink` call, the way Emacs and Mercurial lock
 * files. Unlike a lock that goes stale after a timeout, a lock left by a killed process is taken over
 * at once: its owner is checked for life (pid and start time), and breakers take turns under a
 * second lock so that no live owner's lock is ever removed.
 */
export class FileLock {
  private readonly owner =
    `${LOCK_PREFIX}:${thisHost}:${process.pid}:${thisStart}:${randomBytes(6).toString('hex')}`;

  constructor(
    private readonly fs: FileSystemApi,
    private readonly path: string,
  ) {}

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

  release(): void {
    try {
      if (this.fs.readlinkSync(this.path) === this.owner) this.fs.unlinkSync(this.path);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
    }
  }

  private tryAcquire(): boolean {
    try {
      this.fs.symlinkSync(this.owner, this.path);
      return true;
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
    }
    const holder = this.readHolder();
    if (holder === undefined) return false; // released meanwhile: try again at once next round
    if (this.isAbandoned(holder)) this.breakAbandoned(holder);
    return false;
  }

  private readHolder(path = this.path): string | undefined {
    try {
      return this.fs.readlinkSync(path);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw error;
    }
  }

  private isAbandoned(target: string, path = this.path): boolean {
    const owner = parseOwner(target);
    if (owner && owner.host === thisHost) return !isAlive(owner);
    // Another host (a shared volume), or not a lock of ours: only age can tell.
    try {
      return Date.now() - this.fs.lstatSync(path).mtimeMs > FOREIGN_STALE_MS;
    } catch {
      return false;
    }
  }

  /** Removes an abandoned lock, re-checking under the break lock that it is still the same one. */
  private breakAbandoned(target: string): void {
    const breakPath = `${this.path}.break`;
    try {
      this.fs.symlinkSync(this.owner, breakPath);
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
      const breaker = this.readHolder(breakPath);
      if (breaker !== undefined && this.isAbandoned(breaker, breakPath)) {
        try {
          if (this.fs.readlinkSync(breakPath) === breaker) this.fs.unlinkSync(breakPath);
        } catch {
          // another breaker got there first
        }
      }
      return;
    }
    try {
      if (this.readHolder() === target) this.fs.unlinkSync(this.path);
    } finally {
      this.fs.unlinkSync(breakPath);
    }
  }

  private describeHolder(): string {
    const target = this.readHolder();
    const owner = target && parseOwner(target);
    return owner ? `process ${owner.pid} on ${owner.host}` : 'an unknown owner';
  }
}

/** Whether a lock file's owner is gone, for sweeping leftovers when a store opens. */
export function isLockAbandoned(fs: FileSystemApi, path: string): boolean {
  try {
    const owner = parseOwner(fs.readlinkSync(path));
    return owner !== undefined && owner.host === thisHost && !isAlive(owner);
  } catch {
    return false;
  }
}

/** Whether the process that wrote a temp file (`…tmp-<pid>-<start>-<nonce>`) is gone. */
export function isWriterGone(pid: number, start: string): boolean {
  return !isAlive({ host: thisHost, pid, start });
}

export { thisStart as processStart };

/** Whether a live process holds the lock at `path` (a lock left by a dead process is not held). */
export function isLockHeld(fs: FileSystemApi, path: string): boolean {
  let target: string;
  try {
    target = fs.readlinkSync(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw error;
  }
  const owner = parseOwner(target);
  return !(owner && owner.host === thisHost && !isAlive(owner));
}
