import { PermissionError, type PluginStateError, StorageError } from '../../core/errors.js';
import type { PluginId } from '../../core/types.js';
import { errnoCode } from './fs-api.js';

/** Turns a failed system call into the library's typed error, with advice that fits the errno. */
export function fileSystemError(
  error: unknown,
  operation: string,
  location: string,
  pluginId: PluginId | undefined,
): PluginStateError {
  const code = errnoCode(error);
  const subject = pluginId ? ` of plugin ${pluginId}` : '';
  const context = { pluginId, operation, location, cause: error };
  const reason = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return new PermissionError(
        `${operation}${subject}: permission denied on ${location} (${code}). Give this process read and write access to the storage folder.`,
        context,
      );
    case 'EROFS':
      return new PermissionError(
        `${operation}${subject}: ${location} is on a read-only file system (EROFS). Point the storage at a writable folder.`,
        context,
      );
    case 'ENOSPC':
    case 'EDQUOT':
      return new StorageError(
        `${operation}${subject}: the disk holding ${location} is full (${code}). Free some space and try again; the previously stored state is unchanged.`,
        context,
      );
    default:
      return new StorageError(`${operation}${subject} failed on ${location}: ${reason}`, context);
  }
}
