// Storage hygiene of the file backend, checked once when a store opens: the folder must be this
// process's own and closed to other users, the way ssh treats ~/.ssh and its keys.
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PermissionError } from '../../core/errors.js';
import type { StateReport } from '../../core/types.js';
import type { FileSystemApi } from './fs-api.js';

/**
 * What the file backend does on open with a storage folder that other users could write to, or
 * that another user owns: `'refuse'` (the default) fails the open with a `PermissionError`;
 * `'warn'` opens it anyway and sends the same error through `onReport`.
 */
export type UnsafeFolderPolicy = 'refuse' | 'warn';

/** What could write into the folder besides this process. */
interface FolderProblem {
  path: string;
  mode: number;
  uid: number;
  /** The base folder itself, or a folder on the way to it. */
  ancestor: boolean;
  reasons: string[];
}

/** `<id>.json` and the corrupt copies moved aside from it: the files that hold state data. */
const DATA_FILE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.json(?:\.corrupt-.*)?$/;
/** At most this many loose files are named in the one report about them. */
const NAMED_FILES = 5;

/**
 * Checks the storage folder when a store opens, before anything in it is read, swept or written.
 *
 * - The base folder must be owned by this process's effective uid and be writable by nobody else
 *   (no group or other write bit, sticky or not): anyone who can write it can plant, replace or
 *   remove state files, locks and temp files.
 * - Every folder on the way to it (following symlinks: both the path as given and its real path)
 *   must be owned by this uid or by root, and not be writable by group or others, unless it has the
 *   sticky bit (as `/tmp` has): whoever can write a parent can rename the storage folder away and
 *   put their own in its place. This is the rule of OpenSSH's `safe_path()`.
 * - State files (and corrupt copies kept aside) that others may read, write or own are reported, not
 *   refused and not changed: the open only reads; the next save of each replaces the file with a new
 *   one, mode 0600, owned by this process. They are looked at only when the folder lets other users
 *   in (an execute bit for group or others): through a folder they cannot enter, nobody else can
 *   reach a file whatever its mode, and a store of 10,000 states then opens without 10,000 stats.
 *
 * Modes mean nothing on Windows, where the check is skipped.
 */
export function checkStorageHygiene(
  fs: FileSystemApi,
  baseDir: string,
  policy: UnsafeFolderPolicy,
  report: (report: StateReport) => void,
): void {
  const uid = process.geteuid?.();
  if (uid === undefined || process.platform === 'win32') return;
  const base = fs.statSync(baseDir);
  const problems = folderProblems(fs, baseDir, base, uid);
  if (problems.length > 0) {
    const error = unsafeFolderError(baseDir, uid, problems, policy);
    if (policy !== 'warn') throw error;
    report({ operation: 'open', code: error.code, error, recovered: true, message: error.message });
  }
  if ((base.mode & 0o011) !== 0) reportLooseFiles(fs, baseDir, uid, report);
}

function folderProblems(
  fs: FileSystemApi,
  baseDir: string,
  base: ReturnType<FileSystemApi['statSync']>,
  uid: number,
): FolderProblem[] {
  const problems: FolderProblem[] = [];
  const own = describeProblems(base.mode, base.uid, uid, false);
  if (own.length > 0)
    problems.push({ path: baseDir, mode: base.mode, uid: base.uid, ancestor: false, reasons: own });
  let real = baseDir;
  try {
    real = realpathSync.native(baseDir);
  } catch {
    // A file-system API that is not the real one (tests, virtual file systems): the path as given.
  }
  const seen = new Set<string>([baseDir, real]);
  for (const start of real === baseDir ? [baseDir] : [baseDir, real]) {
    for (let dir = dirname(start), child = start; dir !== child; child = dir, dir = dirname(dir)) {
      if (seen.has(dir)) continue;
      seen.add(dir);
      let stats: ReturnType<FileSystemApi['statSync']>;
      try {
        stats = fs.statSync(dir);
      } catch {
        continue; // we reached the folder through it, so there is nothing to learn from this failure
      }
      const reasons = describeProblems(stats.mode, stats.uid, uid, true);
      if (reasons.length > 0)
        problems.push({ path: dir, mode: stats.mode, uid: stats.uid, ancestor: true, reasons });
    }
  }
  return problems;
}

function describeProblems(mode: number, owner: number, uid: number, ancestor: boolean): string[] {
  const reasons: string[] = [];
  if (owner !== uid && !(ancestor && owner === 0)) {
    reasons.push(
      ancestor
        ? `is owned by uid ${owner}, neither by this process (uid ${uid}) nor by root`
        : `is owned by uid ${owner}, not by this process (uid ${uid})`,
    );
  }
  // In a sticky folder only an entry's owner may rename or remove it: safe as a parent, not as the store.
  const sticky = ancestor && (mode & 0o1000) !== 0;
  if (!sticky) {
    const writers = [mode & 0o020 ? 'its group' : '', mode & 0o002 ? 'every user' : ''].filter(Boolean);
    if (writers.length > 0) reasons.push(`is writable by ${writers.join(' and by ')}`);
  }
  return reasons;
}

function unsafeFolderError(
  baseDir: string,
  uid: number,
  problems: FolderProblem[],
  policy: UnsafeFolderPolicy,
): PermissionError {
  const described = problems.map((problem) => {
    const path = quote(problem.path);
    const foreign = problem.uid !== uid && !(problem.ancestor && problem.uid === 0);
    const writable = problem.reasons.some((reason) => reason.startsWith('is writable'));
    let fix: string;
    if (!problem.ancestor) {
      fix = foreign
        ? `\`chown ${uid} ${path} && chmod 700 ${path}\`, or run this process as uid ${problem.uid}`
        : `\`chmod 700 ${path}\``;
    } else if (foreign) {
      // Never advise taking over someone else's folder (a home directory): move the store instead.
      fix =
        `keep the storage folder below folders that only uid ${uid} or root own and can write (move it), ` +
        `or run this process as uid ${problem.uid}${writable ? `; and \`chmod go-w ${path}\`` : ''}`;
    } else {
      fix = `\`chmod go-w ${path}\``;
    }
    const which = problem.ancestor ? `The folder ${problem.path} above it` : 'It';
    return `${which} (mode ${octal(problem.mode)}, owner uid ${problem.uid}) ${problem.reasons.join(' and ')}. Fix: ${fix}.`;
  });
  const outcome =
    policy === 'warn'
      ? 'It was opened anyway, as unsafeFolder is "warn".'
      : 'Nothing was read or written. Fix the folder, or pass unsafeFolder: "warn" to open it anyway.';
  return new PermissionError(
    `open: the storage folder ${baseDir} is not safe: other users could plant, replace or remove its state files. ` +
      `${described.join(' ')} ${outcome}`,
    { operation: 'open', location: baseDir },
  );
}

function reportLooseFiles(
  fs: FileSystemApi,
  baseDir: string,
  uid: number,
  report: (report: StateReport) => void,
): void {
  const loose: string[] = [];
  for (const name of fs.readdirSync(baseDir)) {
    if (!DATA_FILE.test(name)) continue;
    const path = join(baseDir, name);
    let stats: ReturnType<FileSystemApi['lstatSync']>;
    try {
      stats = fs.lstatSync(path);
    } catch {
      continue; // removed meanwhile
    }
    if (stats.isFile() && ((stats.mode & 0o077) !== 0 || stats.uid !== uid)) {
      loose.push(`${name} (mode ${octal(stats.mode)}, owner uid ${stats.uid})`);
    }
  }
  if (loose.length === 0) return;
  const named = loose.slice(0, NAMED_FILES).join(', ');
  const more = loose.length > NAMED_FILES ? ` and ${loose.length - NAMED_FILES} more` : '';
  report({
    operation: 'open',
    code: 'PERMISSION',
    recovered: true,
    message:
      `open: ${loose.length} state file(s) in ${baseDir} can be read or changed by other users, or belong to another ` +
      `user: ${named}${more}. Each becomes mode 0600, owned by this process, on its next save; to fix them now run ` +
      `\`chmod 600 ${quote(baseDir)}/*.json*\`${uid === 0 ? '' : ' (and chown the files of other users)'}.`,
  });
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

/** A path as a shell word, so that a fix can be pasted as is. */
function quote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}
