import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { StorageError } from '../core/errors.js';

/** Where a backup writes its lines: batched, with backpressure, finished or abandoned once. */
export interface LineSink {
  /** The absolute path of the archive file, or undefined for a stream. */
  readonly path: string | undefined;
  write(text: string): Promise<void>;
  /** Makes the archive complete (and, for a file, durable and visible under its name). */
  finish(): Promise<void>;
  /** Gives up: a file's temp file is removed and nothing appears under the archive's name. */
  abandon(): Promise<void>;
}

const STREAM = 'the destination stream';

/** Lines are gathered into chunks of about this size before they are written. */
const CHUNK_CHARS = 256 * 1024;

/** Gathers small lines into larger writes; a large line goes through on its own. */
abstract class BatchingSink implements LineSink {
  abstract readonly path: string | undefined;
  private pending: string[] = [];
  private pendingChars = 0;

  protected abstract writeChunk(chunk: string): Promise<void>;
  abstract finish(): Promise<void>;
  abstract abandon(): Promise<void>;

  async write(text: string): Promise<void> {
    this.pending.push(text);
    this.pendingChars += text.length;
    if (this.pendingChars >= CHUNK_CHARS) await this.flush();
  }

  protected async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    await this.writeChunk(chunk);
  }
}

/**
 * Writes the archive durably: an exclusive temp file (mode 0600) beside the destination, every
 * byte written and fsynced, renamed over the destination, and the folder fsynced. The destination
 * holds either its previous content or the complete archive, never a part of one.
 */
export async function fileSink(destination: string): Promise<LineSink> {
  const path = resolve(destination);
  const temp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const handle = await open(temp, 'wx', 0o600).catch((error: unknown) => {
    throw writeError(path, error);
  });
  // The mode given to open() is reduced by the umask; the archive is 0600 whatever the umask is.
  await handle.chmod(0o600).catch(async (error: unknown) => {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw writeError(path, error);
  });

  class FileSink extends BatchingSink {
    readonly path = path;
    private closed = false;

    protected async writeChunk(chunk: string): Promise<void> {
      // FileHandle.write may write fewer bytes than asked (a full disk): go on until all are written.
      const bytes = Buffer.from(chunk, 'utf8');
      try {
        for (let offset = 0; offset < bytes.length; ) {
          const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, null);
          if (bytesWritten <= 0)
            throw new Error(`the write made no progress (0 of ${bytes.length - offset} bytes)`);
          offset += bytesWritten;
        }
      } catch (error) {
        throw writeError(path, error);
      }
    }

    async finish(): Promise<void> {
      try {
        await this.flush();
        await handle.sync();
        this.closed = true;
        await handle.close();
        await rename(temp, path);
      } catch (error) {
        await this.abandon();
        throw writeError(path, error);
      }
      try {
        await syncFolder(dirname(path));
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new StorageError(
          `backup: the archive at ${path} is complete, but its folder could not be fsynced (${reason}): ` +
            'after a power cut the folder may still hold the previous file. Run the backup again.',
          { operation: 'backup', location: path, cause: error },
        );
      }
    }

    async abandon(): Promise<void> {
      if (!this.closed) {
        this.closed = true;
        await handle.close().catch(() => undefined);
      }
      await rm(temp, { force: true }).catch(() => undefined);
    }
  }
  return new FileSink();
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes the archive to a stream, waiting for `drain` when its buffer is full. The stream is ended
 * by `finish()` when `end` is true (as `pipe` does), otherwise only flushed; `abandon()` leaves it
 * open and unended, so a reader sees an archive without its trailer: a truncated one.
 */
export function streamSink(stream: Writable, end: boolean): LineSink {
  let failure: unknown;
  const onError = (error: unknown) => {
    failure ??= error;
  };
  // Without a listener, an 'error' event (EPIPE, a full disk) would crash the process.
  stream.on('error', onError);
  const release = () => stream.off('error', onError);
  const fail = (error: unknown) => writeError(STREAM, error);

  const waitFor = (event: 'drain' | 'finish') =>
    new Promise<void>((resolveWait, rejectWait) => {
      const cleanup = () => {
        stream.off(event, done);
        stream.off('error', failed);
        stream.off('close', closed);
      };
      const done = () => {
        cleanup();
        resolveWait();
      };
      const failed = (error: unknown) => {
        cleanup();
        rejectWait(error);
      };
      const closed = () => {
        cleanup();
        if (event === 'finish' && stream.writableFinished) resolveWait();
        else rejectWait(failure ?? new Error('the stream was closed before the archive was written'));
      };
      stream.on(event, done);
      stream.on('error', failed);
      stream.on('close', closed);
    });

  class StreamSink extends BatchingSink {
    readonly path = undefined;

    protected async writeChunk(chunk: string): Promise<void> {
      if (failure !== undefined) throw fail(failure);
      if (stream.destroyed || stream.writableEnded) {
        throw fail(new Error('the stream is already ended or destroyed'));
      }
      try {
        if (!stream.write(chunk, 'utf8')) await waitFor('drain');
      } catch (error) {
        throw fail(error);
      }
    }

    async finish(): Promise<void> {
      try {
        await this.flush();
        if (failure !== undefined) throw failure;
        if (end) {
          const finished = waitFor('finish');
          stream.end();
          await finished;
        } else {
          // Nothing is pending once an empty write's callback runs: it is queued after the others.
          await new Promise<void>((resolveWrite, rejectWrite) => {
            stream.write('', (error) => (error ? rejectWrite(error) : resolveWrite()));
          });
        }
        if (failure !== undefined) throw failure;
      } catch (error) {
        throw error instanceof StorageError ? error : fail(error);
      } finally {
        release();
      }
    }

    async abandon(): Promise<void> {
      release();
    }
  }
  return new StreamSink();
}

function writeError(where: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const after =
    where === STREAM
      ? 'What was written lacks its trailer, so restore refuses it as truncated.'
      : 'The file there is unchanged.';
  return new StorageError(`backup: could not write the archive to ${where}: ${reason}. ${after}`, {
    operation: 'backup',
    location: where,
    cause: error,
  });
}
