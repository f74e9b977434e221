import type { WriteConditions } from '../../core/guarded-storage.js';
import type { PluginStateStorage } from '../../core/storage.js';
import type { PluginId, SaveOptions } from '../../core/types.js';
import { noHistory } from './errors.js';

/** A storage with the history methods the encryption layer forwards to. */
export type StorageWithHistory = PluginStateStorage &
  Required<Pick<PluginStateStorage, 'listRevisions' | 'loadRevision' | 'purgeState'>>;

/**
 * The storage under the layer, when it keeps history; otherwise throws the `StorageError` that
 * says it keeps none. History is the inner storage's (its own `history` option): the layer keeps
 * nothing of its own, so that what is kept is written atomically with each save, by the backend.
 */
export function innerHistory(
  inner: PluginStateStorage,
  operation: string,
  pluginId: PluginId,
  location: string,
): StorageWithHistory {
  if (
    typeof inner.listRevisions === 'function' &&
    typeof inner.loadRevision === 'function' &&
    typeof inner.purgeState === 'function'
  ) {
    return inner as StorageWithHistory;
  }
  throw noHistory(operation, pluginId, location);
}

/**
 * The options of the inner save that carry out a write's conditions. The revision check and the
 * schema version check run inside the inner storage, atomically with its write (the version is
 * stored in clear beside the envelope); `keepReplaced` asks it to keep the replaced revision. The
 * guard's `keepRevisions` is not passed: how much history is kept is the inner storage's option.
 * Only the options in use are given, so a storage that knows only `expectedRevision` still works.
 */
export function innerSaveOptions(conditions: WriteConditions): SaveOptions | undefined {
  const options: SaveOptions = {};
  if (conditions.expectedRevision !== undefined) options.expectedRevision = conditions.expectedRevision;
  if (conditions.maxStoredVersion !== undefined) options.maxStoredVersion = conditions.maxStoredVersion;
  if (conditions.keepReplaced) options.keepReplaced = true;
  return Object.keys(options).length === 0 ? undefined : options;
}
