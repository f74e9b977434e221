import { closeSync, constants, fsyncSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { PermissionError, StorageError } from '../../core/errors.js';

/** The first 16 bytes of every SQLite 3 database file. */
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Gets the database file ready before SQLite touches it: the parent folder is created (mode 0700)
 * when missing, a new file is created with mode 0600 (SQLite would use 0644), and an existing file
 * that is not an SQLite database is refused before anything can be written to it.
 */
export function prepareDatabaseFile(path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (createIfMissing(path)) return;
    const stat = statSync(path);
    if (!stat.isFile()) {
      throw new StorageError(
        `open: ${path} exists but is not a file. Point SqliteStateStorage at a database file (it is created if missing).`,
        { operation: 'open', location: path },
      );
    }
    if (stat.size === 0) return; // an empty file is an empty database (what SQLite itself creates)
    const header = Buffer.alloc(SQLITE_HEADER.length);
    const fd = openSync(path, 'r');
    let read: number;
    try {
      read = readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
    if (read < header.length || !header.equals(SQLITE_HEADER)) throw notADatabase(path);
  } catch (error) {
    if (error instanceof StorageError) throw error;
    throw fileError(error, path);
  }
}

/** The error for a file that holds something other than an SQLite database. */
export function notADatabase(path: string, cause?: unknown): StorageError {
  return new StorageError(
    `open: ${path} is not an SQLite database (it does not start with the SQLite file header). ` +
      'It was left untouched. Point SqliteStateStorage at another file, or move this one away.',
    { operation: 'open', location: path, cause },
  );
}

/** Creates an empty file with mode 0600; false when one is already there. */
function createIfMissing(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  closeSync(fd);
  // The new name must survive a power cut like the data SQLite will fsync into the file.
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return true;
}

function fileError(error: unknown, path: string): StorageError | PermissionError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason = error instanceof Error ? error.message : String(error);
  if (code === 'EACCES' || code === 'EPERM') {
    return new PermissionError(
      `open: permission denied for the SQLite database ${path} (${reason}). Give this process read and write access to the file and its folder.`,
      { operation: 'open', location: path, cause: error },
    );
  }
  return new StorageError(`open: cannot prepare the SQLite database file ${path}: ${reason}`, {
    operation: 'open',
    location: path,
    cause: error,
  });
}
