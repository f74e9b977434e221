// Files a store of this thread made and then failed to remove when it was done with them: a temp
// file of a failed save, a lock whose release failed, an owner file whose creation failed. Each is
// remembered here and removed again by the next operation on its folder, by close, and by the
// sweep of the next open. Without this they would stay until the process exits: the open-time
// sweep leaves every file of a live process alone, and a lock of a live process blocks every
// writer of its state (in this process too) until then.
//
// Why retrying is safe: every file call of an operation runs synchronously, from the temp file's
// creation to its rename or removal, so whenever a retry runs no operation of this thread is
// using a temp file or an owner file being created. Locks are the exception (held across an
// await): a lock is removed only while it still names its owner and no operation of this thread
// holds it (see lock.ts). The registry is module state, so per thread: a worker thread's leftovers
// are that thread's to retry, as only it knows which of its files are in use.
import { dirname } from 'node:path';
import { errnoCode, type FileSystemApi } from './fs-api.js';

/** Removes the file if it is still the one left over; throws when that fails. ENOENT means done. */
export type Removal = (fs: FileSystemApi) => void;

interface Leftover {
  remove: Removal;
  /** The owner text of a lock left over: that owner's text stays recognized while it is here. */
  owner?: string;
}

/** Folder → path → how to remove it. Empty in the normal case: a retry is one failed lookup. */
const leftovers = new Map<string, Map<string, Leftover>>();

const unlink: (path: string) => Removal = (path) => (fs) => fs.unlinkSync(path);

/**
 * Removes a file this thread made and is done with, or remembers it to be removed later (by
 * `later`, which checks that it is still the file left over); never throws: the caller is
 * handling a failure already, or has finished its work. A file already gone counts as removed.
 */
export function removeOrRemember(
  fs: FileSystemApi,
  path: string,
  later: Removal = unlink(path),
  owner?: string,
): void {
  try {
    fs.unlinkSync(path);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') remember(path, later, owner);
    return;
  }
  forgetLeftover(path);
}

/** Remembers a file to be removed later (a lock whose release failed). */
export function remember(path: string, remove: Removal, owner?: string): void {
  const dir = dirname(path);
  let inFolder = leftovers.get(dir);
  if (!inFolder) {
    inFolder = new Map();
    leftovers.set(dir, inFolder);
  }
  inFolder.set(path, { remove, owner });
}

/** Tries again to remove what this thread left in `dir`; keeps what still fails. Never throws. */
export function retryLeftovers(fs: FileSystemApi, dir: string): void {
  const inFolder = leftovers.get(dir);
  if (!inFolder) return;
  for (const [path, { remove }] of inFolder) {
    try {
      remove(fs);
      inFolder.delete(path);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') inFolder.delete(path);
    }
  }
  if (inFolder.size === 0) leftovers.delete(dir);
}

/** The file is in use again (an owner file made anew, a lock taken): it is no longer left over. */
export function forgetLeftover(path: string): void {
  if (leftovers.size === 0) return; // the normal case, on every lock taken: no string work
  const dir = dirname(path);
  const inFolder = leftovers.get(dir);
  if (inFolder?.delete(path) && inFolder.size === 0) leftovers.delete(dir);
}

/** Whether a lock naming `owner` is still left over somewhere. */
export function hasLeftoverOf(owner: string): boolean {
  for (const inFolder of leftovers.values()) {
    for (const leftover of inFolder.values()) if (leftover.owner === owner) return true;
  }
  return false;
}
