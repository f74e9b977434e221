import { IntegrityError, SerializationError } from '../core/errors.js';
import type { PluginId } from '../core/types.js';

// The errors a restore throws about an archive, each naming the line as `<archive>:<line>`.

/** Where in an archive: `<name>:<line>`, as compilers write it. */
export function archiveLocation(name: string, line: number): string {
  return `${name}:${line}`;
}

const UNTOUCHED = 'Nothing was written to the storage.';

export function shapeError(
  name: string,
  line: number,
  reason: string,
  pluginId?: PluginId,
): SerializationError {
  return new SerializationError(
    `restore: line ${line} of the archive ${name} is not valid: ${reason}. ${UNTOUCHED}`,
    {
      operation: 'restore',
      location: archiveLocation(name, line),
      ...(pluginId ? { pluginId } : {}),
    },
  );
}

export function integrityError(name: string, line: number, reason: string): IntegrityError {
  return new IntegrityError(
    `restore: the archive ${name} is damaged at line ${line}: ${reason}. ${UNTOUCHED}`,
    {
      operation: 'restore',
      location: archiveLocation(name, line),
    },
  );
}

export function truncated(name: string, line: number, where: string): IntegrityError {
  return new IntegrityError(
    `restore: the archive ${name} ends ${where} ${line} without its trailer line: it is truncated (or its backup did not finish). ${UNTOUCHED}`,
    { operation: 'restore', location: archiveLocation(name, line) },
  );
}

/** The line-length limit was passed: the line holds more than any record within the limits can. */
export function lineTooLong(name: string, line: number, maxLineBytes: number): never {
  throw shapeError(
    name,
    line,
    `it is longer than ${maxLineBytes} bytes, more than a record within the data limit (limits.maxBytes) can be`,
  );
}
