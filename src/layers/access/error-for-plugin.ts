import {
  ConflictError,
  describeError,
  IntegrityError,
  PermissionError,
  PluginStateError,
  SerializationError,
  StorageError,
  ValidationError,
  VersionIncompatibilityError,
} from '../../core/errors.js';

/**
 * The error a plugin receives in place of a storage's own: the same class, code, message and
 * fields, but without `cause`. A cause may be a driver's error holding host objects (a client, a
 * response, or anything a custom backend throws, the backend itself included); the host still gets
 * the original through `onReport`.
 */
export function errorForPlugin(error: unknown, operation: string): PluginStateError {
  if (!(error instanceof PluginStateError)) {
    return new StorageError(`${operation} failed: ${describeError(error)}`, { operation });
  }
  const context = {
    ...(error.pluginId === undefined ? {} : { pluginId: error.pluginId }),
    operation: error.operation ?? operation,
    ...(error.location === undefined ? {} : { location: error.location }),
  };
  if (error instanceof ConflictError) {
    return new ConflictError(error.message, {
      ...context,
      storedRevision: error.storedRevision,
      expectedRevision: error.expectedRevision,
    });
  }
  if (error instanceof ValidationError) {
    const issues = error.issues.map((issue) => ({ path: issue.path, message: issue.message }));
    return new ValidationError(error.message, { ...context, issues });
  }
  switch (error.code) {
    case 'SERIALIZATION':
      return new SerializationError(error.message, context);
    case 'PERMISSION':
      return new PermissionError(error.message, context);
    case 'VERSION_INCOMPATIBLE':
      return new VersionIncompatibilityError(error.message, context);
    case 'INTEGRITY':
      return new IntegrityError(error.message, context);
    default:
      return new StorageError(error.message, context);
  }
}
