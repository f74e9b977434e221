import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { PermissionError, StorageError } from '../../core/errors.js';
import {
  checkKeyId,
  configurationError,
  decodeKeyText,
  type EncryptionKey,
  fingerprintId,
  KEY_BYTES,
} from './keys.js';

/** Options of the key sources. */
export interface KeySourceOptions {
  /** The key's id; default: `key-` and a hash of the key (stable for as long as the key is). */
  id?: string;
}

const TEXT_FORMS = '64 hexadecimal digits or 32 bytes in base64 (44 characters)';

/**
 * Reads a 256-bit key from an environment variable, as 64 hex digits or base64 (what
 * `openssl rand -base64 32` prints). The value is never put into an error message.
 *
 * @example
 * const storage = encrypted(inner, { key: keyFromEnv('PLUGIN_STATE_KEY') });
 */
export function keyFromEnv(
  variable: string,
  options: KeySourceOptions & { env?: NodeJS.ProcessEnv } = {},
): EncryptionKey {
  const value = (options.env ?? process.env)[variable];
  if (value === undefined || value.trim() === '') {
    throw configurationError(
      `keyFromEnv: the environment variable ${variable} is not set. ` +
        `Set it to a key of ${TEXT_FORMS}, e.g. the output of \`openssl rand -base64 32\`.`,
    );
  }
  const key = decodeKeyText(value);
  if (!key) {
    throw configurationError(
      `keyFromEnv: the environment variable ${variable} does not hold a key: expected ${TEXT_FORMS} ` +
        `(it holds ${value.trim().length} characters). Generate one with \`openssl rand -base64 32\`.`,
    );
  }
  return { id: options.id === undefined ? fingerprintId(key) : checkKeyId(options.id, 'keyFromEnv'), key };
}

/** A key file is small; anything bigger is not a key file. */
const MAX_KEY_FILE_BYTES = 1024;

/**
 * Reads a 256-bit key from a file that only its owner can read: mode 0600 or 0400. A file any group
 * or other user may read or write is refused (the way ssh treats private keys), with a
 * `PermissionError` saying how to fix it. The file holds 32 raw bytes, or the key as 64 hex digits
 * or base64, with an optional trailing newline. Symbolic links are followed (Kubernetes mounts
 * secrets that way: give the volume `defaultMode: 0400`); the mode checked is the file's own.
 * On Windows, where modes do not describe access, the mode is not checked.
 *
 * @example
 * // umask 077; openssl rand -base64 32 > /etc/my-app/state.key
 * const storage = encrypted(inner, { key: await keyFromFile('/etc/my-app/state.key') });
 */
export async function keyFromFile(path: string, options: KeySourceOptions = {}): Promise<EncryptionKey> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY);
  } catch (error) {
    throw fileError(path, error);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw configurationError(
        `keyFromFile: ${path} is not a regular file. Point it at the key file itself.`,
      );
    }
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw new PermissionError(
        `keyFromFile: the key file ${path} has mode ${mode}, so other users can read or change it; the key ` +
          `was not used. Make it readable by its owner only: chmod 600 ${path} (and keep the key secret: ` +
          'replace it if others may have read it).',
        { operation: 'keyFromFile', location: path },
      );
    }
    if (stat.size > MAX_KEY_FILE_BYTES) {
      throw configurationError(
        `keyFromFile: ${path} is ${stat.size} bytes, too large to be a key file: it must hold ${TEXT_FORMS}, or 32 raw bytes.`,
      );
    }
    const bytes = await handle.readFile();
    const key = bytes.length === KEY_BYTES ? Buffer.from(bytes) : decodeKeyText(bytes.toString('latin1'));
    bytes.fill(0);
    if (!key) {
      throw configurationError(
        `keyFromFile: ${path} does not hold a key: expected ${TEXT_FORMS}, or 32 raw bytes ` +
          `(it holds ${stat.size} bytes). Create one with \`umask 077; openssl rand -base64 32 > ${path}\`.`,
      );
    }
    return { id: options.id === undefined ? fingerprintId(key) : checkKeyId(options.id, 'keyFromFile'), key };
  } finally {
    await handle.close();
  }
}

function fileError(path: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const context = { operation: 'keyFromFile', location: path, cause: error };
  if (code === 'ENOENT') {
    return configurationError(
      `keyFromFile: the key file ${path} does not exist. Create it with \`umask 077; openssl rand -base64 32 > ${path}\`.`,
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new PermissionError(
      `keyFromFile: this process may not read the key file ${path}. Run as its owner.`,
      context,
    );
  }
  return new StorageError(
    `keyFromFile: cannot read the key file ${path}: ${(error as Error).message}`,
    context,
  );
}
