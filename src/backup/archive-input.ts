import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { PluginStateError, StorageError } from '../core/errors.js';

/** An archive a restore reads twice: once to verify it, once to write it. */
export interface ArchiveInput {
  /** For messages: the file's path, or "(stream)". */
  readonly name: string;
  /** The archive's bytes, for the verifying pass. */
  first(): AsyncIterable<Buffer>;
  /** The same bytes again, for the writing pass. */
  second(): AsyncIterable<Buffer>;
  /** Removes what the input made (a stream's spool file). */
  dispose(): Promise<void>;
}

/**
 * A file is simply read twice. A stream can be read only once, so the verifying pass copies it
 * into a private spool file (mode 0600, in a fresh 0700 folder under the OS temp folder, removed
 * by `dispose`) that the writing pass reads: the stream is never held in memory.
 */
export async function archiveInput(archive: string | Readable): Promise<ArchiveInput> {
  if (typeof archive === 'string') {
    const path = resolve(archive);
    return {
      name: path,
      first: () => readFile(path),
      second: () => readFile(path),
      dispose: async () => undefined,
    };
  }
  const name = '(stream)';
  const folder = await mkdtemp(join(tmpdir(), 'plugin-state-restore-'));
  const spool = join(folder, 'archive.ndjson');
  return {
    name,
    async *first() {
      const handle = await open(spool, 'wx', 0o600);
      try {
        for await (const chunk of archive) {
          const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
          await handle.write(bytes);
          yield bytes;
        }
      } catch (error) {
        throw readError(name, error);
      } finally {
        await handle.close();
      }
    },
    second: () => readFile(spool, name),
    dispose: () => rm(folder, { recursive: true, force: true }),
  };
}

async function* readFile(path: string, name = path): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) yield chunk as Buffer;
  } catch (error) {
    throw readError(name, error);
  }
}

function readError(name: string, error: unknown): unknown {
  if (error instanceof PluginStateError || !(error instanceof Error)) return error;
  return new StorageError(`restore: cannot read the archive ${name}: ${error.message}.`, {
    operation: 'restore',
    location: name,
    cause: error,
  });
}
