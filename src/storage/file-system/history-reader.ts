import { SerializationError } from '../../core/errors.js';
import type { StateLimits } from '../../core/limits.js';
import type { PluginId, PluginState, RevisionInfo, StateReport } from '../../core/types.js';
import { decodeEnvelope, EnvelopeError } from './envelope.js';
import { fileSystemError } from './errors.js';
import { errnoCode, type FileSystemApi } from './fs-api.js';
import type { HistoryFiles } from './history.js';
import { inspectStoredFile, type StoredFile } from './stored-file.js';

/**
 * Reads the history of the file storage (see history.ts): lists an id's revisions and loads one
 * kept revision, with the same envelope checks as a state file. A listing leaves out a file it
 * cannot read and reports it; loading that file is a `SerializationError` naming it.
 */
export class HistoryReader {
  constructor(
    private readonly fs: FileSystemApi,
    private readonly history: HistoryFiles,
    private readonly limits: StateLimits,
    private readonly report: (report: StateReport) => void,
  ) {}

  /**
   * The current revision (if any), then at most `limit` kept ones, newest first. Read without the
   * state's lock, so a save of another process may run meanwhile: the current file is read first,
   * and `~<n>` at or above its revision left out (the link a save makes right before its rename,
   * or a stray); a kept revision that such a save drops meanwhile is left out, never misread.
   */
  list(pluginId: PluginId, limit: number): RevisionInfo[] {
    const listed: RevisionInfo[] = [];
    const current = this.inspect(pluginId, this.history.currentPath(pluginId), undefined);
    if (current) listed.push(toInfo(current, true));
    const below = current?.header.revision ?? Number.POSITIVE_INFINITY;
    const revisions = this.history.revisionsOnDisk(pluginId);
    let taken = 0;
    for (let i = revisions.length - 1; i >= 0 && taken < limit; i--) {
      const revision = revisions[i]!;
      // At or above the current revision: the current file itself (a crash leftover), or a stray.
      if (revision >= below) continue;
      taken++;
      const kept = this.inspect(pluginId, this.history.path(pluginId, revision), revision);
      if (kept) listed.push(toInfo(kept, false));
    }
    return listed;
  }

  /** Reads and fully decodes one history file; undefined when that revision is not kept. */
  read(pluginId: PluginId, revision: number): PluginState | undefined {
    const path = this.history.path(pluginId, revision);
    let bytes: Buffer;
    try {
      bytes = this.fs.readFileSync(path);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw fileSystemError(error, 'loadRevision', path, pluginId);
    }
    try {
      const state = decodeEnvelope(bytes, pluginId, this.limits);
      if (state.revision !== revision) {
        throw new EnvelopeError(`it is named for revision ${revision} but holds revision ${state.revision}`);
      }
      return state;
    } catch (error) {
      if (!(error instanceof EnvelopeError)) throw error;
      throw new SerializationError(
        `loadRevision: the history file of revision ${revision} of plugin ${pluginId} is corrupt: ${error.message}. ` +
          `It is kept as is at ${path}; load or restore another revision (listRevisions), or purgeState to remove the history.`,
        { pluginId, operation: 'loadRevision', location: path, cause: error },
      );
    }
  }

  /**
   * A file's header for a listing (a small file checked whole, a large one by its header and end;
   * see inspectStoredFile); a corrupt one is reported and left out.
   */
  private inspect(pluginId: PluginId, path: string, revision: number | undefined): StoredFile | undefined {
    try {
      const found = inspectStoredFile(this.fs, path, pluginId, true);
      if (found && revision !== undefined && found.header.revision !== revision) {
        throw new EnvelopeError(
          `it is named for revision ${revision} but holds revision ${found.header.revision}`,
        );
      }
      return found;
    } catch (error) {
      if (!(error instanceof EnvelopeError)) throw fileSystemError(error, 'listRevisions', path, pluginId);
      const what = revision === undefined ? 'the state file' : `the history file of revision ${revision}`;
      const skipped = new SerializationError(
        `listRevisions: ${what} of plugin ${pluginId} is corrupt: ${error.message}. It was left out of the list and is kept as is at ${path}.`,
        { pluginId, operation: 'listRevisions', location: path, cause: error },
      );
      this.report({
        operation: 'listRevisions',
        pluginId,
        code: skipped.code,
        error: skipped,
        recovered: true,
        message: skipped.message,
      });
      return undefined;
    }
  }
}

function toInfo(file: StoredFile, current: boolean): RevisionInfo {
  const { revision, version, lastModified } = file.header;
  return { revision, version, lastModified, size: file.dataBytes, current };
}
