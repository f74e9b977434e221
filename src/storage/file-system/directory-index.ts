import { cloneJson } from '../../core/json.js';
import type { PluginId, PluginState } from '../../core/types.js';
import type { ChangeJournal } from './change-journal.js';

/** What the index remembers of one state file. */
type Entry =
  | { kind: 'cached'; state: PluginState; bytes: number }
  | { kind: 'uncached' } // too large to keep in memory: read from disk on every list
  | { kind: 'corrupt'; error: Error };

export interface DirectoryIndexOptions {
  /** States whose serialized data is larger are not kept in memory (default 64 KiB). */
  maxEntryBytes: number;
  /** Total serialized bytes kept in memory over all states (default 32 MiB). */
  maxTotalBytes: number;
}

/** Decodes one state file: a fresh state and the file's size, or undefined when it is gone. */
export type ReadFile = (id: PluginId) => { state: PluginState; bytes: number } | undefined;

/** The state files in the folder, and the ids whose lock file exists. */
export type ScanFolder = () => { ids: PluginId[]; locked: PluginId[] };

export interface ListResult {
  states: PluginState[];
  corrupt: Array<{ pluginId: PluginId; error: Error }>;
}

/**
 * Keeps the decoded states of a folder in memory so that `listStates` does not read every file
 * (1,000 files took ~21 ms to read here; the target is 5 ms), and stays exact when other processes
 * write: the shared {@link ChangeJournal} names every id a writer is about to change, and an id
 * stays "unstable" — re-read on every list — until no live writer holds its lock.
 *
 * Why a list sees every save acknowledged before it started: the writer appended the id before
 * its rename and released the lock after it, both before acknowledging. The list reads the journal
 * (finding the id), checks the lock (free), then reads the file (the new one). A writer that dies
 * in between leaves a lock with a dead owner, which counts as free: its file is final.
 */
export class DirectoryIndex {
  private readonly entries = new Map<PluginId, Entry>();
  private readonly unstable = new Set<PluginId>();
  private complete = false;
  private totalBytes = 0;

  constructor(
    private readonly journal: ChangeJournal,
    private readonly options: DirectoryIndexOptions,
  ) {}

  /** Lists every state; corrupt files are returned apart, so one bad file does not hide the rest. */
  list(scan: ScanFolder, read: ReadFile, isLocked: (id: PluginId) => boolean): ListResult {
    const changes = this.journal.readChanges();
    if (changes.rescan || !this.complete) {
      this.entries.clear();
      this.unstable.clear();
      this.totalBytes = 0;
      const { ids, locked } = scan();
      for (const id of ids) this.refresh(id, read);
      for (const id of locked) this.unstable.add(id);
      this.complete = true;
    } else {
      for (const id of changes.ids) this.unstable.add(id);
    }
    for (const id of this.unstable) {
      // The lock is checked before the file is read: free now means any rename before it is done.
      const held = isLocked(id);
      this.refresh(id, read);
      if (!held) this.unstable.delete(id);
    }

    const result: ListResult = { states: [], corrupt: [] };
    for (const [pluginId, entry] of this.entries) {
      if (entry.kind === 'cached') {
        result.states.push(copyState(entry.state));
      } else if (entry.kind === 'corrupt') {
        result.corrupt.push({ pluginId, error: entry.error });
      } else {
        collect(result, pluginId, read);
      }
    }
    return result;
  }

  clear(): void {
    this.entries.clear();
    this.unstable.clear();
    this.complete = false;
    this.totalBytes = 0;
  }

  private refresh(pluginId: PluginId, read: ReadFile): void {
    const previous = this.entries.get(pluginId);
    if (previous?.kind === 'cached') this.totalBytes -= previous.bytes;
    this.entries.delete(pluginId);
    let found: ReturnType<ReadFile>;
    try {
      found = read(pluginId);
    } catch (error) {
      this.entries.set(pluginId, { kind: 'corrupt', error: error as Error });
      return;
    }
    if (!found) return;
    const { state, bytes } = found;
    if (bytes <= this.options.maxEntryBytes && this.totalBytes + bytes <= this.options.maxTotalBytes) {
      this.entries.set(pluginId, { kind: 'cached', state, bytes });
      this.totalBytes += bytes;
    } else {
      this.entries.set(pluginId, { kind: 'uncached' });
    }
  }
}

/** Reads every state from disk: the list without a cache. */
export function listWithoutCache(ids: PluginId[], read: ReadFile): ListResult {
  const result: ListResult = { states: [], corrupt: [] };
  for (const id of ids) collect(result, id, read);
  return result;
}

function collect(result: ListResult, pluginId: PluginId, read: ReadFile): void {
  try {
    const found = read(pluginId);
    if (found) result.states.push(found.state);
  } catch (error) {
    result.corrupt.push({ pluginId, error: error as Error });
  }
}

function copyState(state: PluginState): PluginState {
  return {
    pluginId: state.pluginId,
    data: cloneJson(state.data),
    lastModified: new Date(state.lastModified.getTime()),
    version: state.version!,
    revision: state.revision!,
  };
}
