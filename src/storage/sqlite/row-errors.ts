import { PluginStateError, SerializationError } from '../../core/errors.js';
import type { PluginId } from '../../core/types.js';
import { RowError } from './rows.js';

/**
 * The `SerializationError` for a row that does not read back (a RowError), naming the place; a
 * `PluginStateError` passes through, and anything else is rethrown. `inHistory`: a row of
 * `<table>_history` (whose place `location` names), rather than the current state.
 */
export function corruptRowError(
  operation: string,
  pluginId: PluginId,
  error: unknown,
  location: string,
  inHistory: boolean,
): PluginStateError {
  if (error instanceof PluginStateError) return error;
  if (!(error instanceof RowError)) throw error;
  const [what, remedy] = inHistory
    ? ['a kept revision', 'repair it, or remove the history of the state (purgeState) to start over']
    : ['the stored state', 'restore it from a backup, or delete the state (deleteState) to start over'];
  return new SerializationError(
    `${operation}: ${what} of plugin ${pluginId} in ${location} is corrupt: ${error.message}. The row is kept as is; ${remedy}.`,
    { pluginId, operation, location, cause: error },
  );
}

/**
 * A save whose condition (`expectedRevision`, `maxStoredVersion`) cannot be checked, because the
 * stored row's `column` is not a whole number.
 */
export function uncomparableError(
  pluginId: PluginId,
  location: string,
  column: 'revision' | 'version',
  option: 'expectedRevision' | 'maxStoredVersion',
  value: number,
  aside: string,
): SerializationError {
  return new SerializationError(
    `saveState: the stored row of plugin ${pluginId} in ${location} is corrupt (its ${column} is not a whole number), ` +
      `so it cannot be compared with ${option} ${value}. The row is kept as is; save without ${option} to replace it ` +
      `(the row is then copied to table ${aside}), or delete the state first.`,
    { pluginId, operation: 'saveState', location },
  );
}
