// Reading a command's input (a file or stdin) and writing a file the way the library does:
// a temp file beside it, fsync, rename, so the path holds the old content or the whole new one.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { CliError } from './output/errors.js';

/** The text of `source`: a file path, or stdin when it is `-` or not given. */
export async function readInput(source: string | undefined, what: string): Promise<string> {
  if (source === undefined || source === '-') {
    if (process.stdin.isTTY) process.stderr.write(`reading ${what} from stdin (end with Ctrl-D)\n`);
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(source, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${what} from ${source}: ${reason(error)}`, undefined, { cause: error });
  }
}

/** Parses JSON input, saying where it breaks. */
export function parseJsonInput(text: string, source: string | undefined, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const from = source === undefined || source === '-' ? 'stdin' : source;
    throw new CliError(
      `${what} from ${from} is not valid JSON (${(error as Error).message}); fix it and run again`,
      undefined,
      { cause: error },
    );
  }
}

/** A file being written: pieces go to a temp file, which `commit` makes durable and renames. */
export interface AtomicFile {
  write(text: string): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Creates a temp file (mode 0600: states may hold private data) beside `path`. */
export async function createAtomicFile(path: string): Promise<AtomicFile> {
  const target = resolve(path);
  const temp = join(
    dirname(target),
    `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(temp, 'wx', 0o600);
  } catch (error) {
    throw new CliError(`cannot write ${path}: ${reason(error)}`, undefined, { cause: error });
  }
  let closed = false;
  const close = async () => {
    if (!closed) await handle.close();
    closed = true;
  };
  return {
    async write(text) {
      await handle.write(text);
    },
    async commit() {
      await handle.sync();
      await close();
      await rename(temp, target);
      const folder = await open(dirname(target), 'r');
      try {
        await folder.sync();
      } finally {
        await folder.close();
      }
    },
    async abort() {
      await close().catch(() => undefined);
      await rm(temp, { force: true });
    },
  };
}

/** `no such file or directory` rather than `ENOENT: no such file or directory, open 'x'`. */
export function reason(error: unknown): string {
  const code = (error as { code?: string }).code;
  const known: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    EEXIST: 'it already exists',
    ENOSPC: 'no space left on the device',
  };
  if (code && known[code]) return known[code];
  return error instanceof Error ? error.message : String(error);
}
