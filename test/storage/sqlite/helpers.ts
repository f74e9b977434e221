// Shared by the SQLite tests: child processes running test/helpers/sqlite-worker.ts, raw
// better-sqlite3 connections to look at what is on disk, and states to save.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { JsonValue, PluginState } from '../../../src/index.js';
import { SqliteStateStorage, type SqliteStorageOptions } from '../../../src/storage/sqlite/index.js';
import { tempDir } from '../../helpers/temp-dir.js';

export const SQLITE_WORKER = fileURLToPath(new URL('../../helpers/sqlite-worker.ts', import.meta.url));

/** A fresh database path in a temp folder removed after the test. */
export function tempDatabase(t: TestContext, name = 'states.db'): string {
  return join(tempDir(t), name);
}

/** A store on `path`, closed after the test. */
export function storeAt(t: TestContext, path: string, options?: SqliteStorageOptions): SqliteStateStorage {
  const store = new SqliteStateStorage(path, options);
  t.after(() => store.close());
  return store;
}

/** A raw better-sqlite3 connection (another connection than the store's), closed after the test. */
export function rawConnection(t: TestContext, path: string, options?: Database.Options): Database.Database {
  const db = new Database(path, options);
  t.after(() => {
    if (db.open) db.close();
  });
  return db;
}

/**
 * The store's own connection. Only tests use this, to query settings (such as `PRAGMA synchronous`)
 * that SQLite keeps per connection and that no other connection can observe.
 */
export function connectionOf(store: SqliteStateStorage): Database.Database {
  const connection = (store as unknown as { connection?: { db: Database.Database } }).connection;
  if (!connection) throw new Error('the store is not open');
  return connection.db;
}

export function stateOf(
  pluginId: string,
  data: JsonValue,
  lastModified = new Date(1_700_000_000_123),
): PluginState {
  return { pluginId, data, lastModified };
}

/** A running sqlite-worker with a line-based view of its stdout. */
export class SqliteChild {
  readonly process: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly lines: string[] = [];
  private readonly waiting: Array<(line: string | undefined) => void> = [];
  private stderr = '';
  private ended = false;

  constructor(args: string[]) {
    this.process = spawn(process.execPath, ['--import', 'tsx', SQLITE_WORKER, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let partial = '';
    this.process.stdout.setEncoding('utf8');
    this.process.stdout.on('data', (chunk: string) => {
      partial += chunk;
      for (let newline = partial.indexOf('\n'); newline >= 0; newline = partial.indexOf('\n')) {
        const line = partial.slice(0, newline);
        partial = partial.slice(newline + 1);
        const resolve = this.waiting.shift();
        if (resolve) resolve(line);
        else this.lines.push(line);
      }
    });
    this.process.stdout.on('end', () => {
      this.ended = true;
      for (const resolve of this.waiting.splice(0)) resolve(undefined);
    });
    this.process.stderr.setEncoding('utf8');
    this.process.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = once(this.process, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
  }

  nextLine(timeoutMs = 30_000): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      if (this.ended) {
        reject(this.failure('ended its output'));
        return;
      }
      const timer = setTimeout(() => reject(this.failure(`printed nothing for ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push((line) => {
        clearTimeout(timer);
        if (line === undefined) reject(this.failure('ended its output'));
        else resolve(line);
      });
    });
  }

  async nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T> {
    const line = await this.nextLine(timeoutMs);
    try {
      return JSON.parse(line) as T;
    } catch {
      throw this.failure(`printed ${JSON.stringify(line)}, not JSON`);
    }
  }

  send(message: unknown): void {
    this.process.stdin.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
  }

  /** Sends a JSON command and returns the JSON answer. */
  async ask<T = Record<string, unknown>>(message: unknown): Promise<T> {
    this.send(message);
    return this.nextJson<T>();
  }

  /** Closes stdin and waits for a clean exit. */
  async finish(): Promise<void> {
    this.process.stdin.end();
    const { code, signal } = await this.exited;
    if (code !== 0) throw this.failure(`exited with code ${code} (signal ${signal})`);
  }

  async kill(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
    await this.exited;
  }

  failure(what: string): Error {
    return new Error(`sqlite-worker ${this.process.pid} ${what}; stderr:\n${this.stderr}`);
  }
}

/** Starts a child and kills it after the test if it is still running. */
export function child(t: TestContext, args: string[]): SqliteChild {
  const started = new SqliteChild(args);
  t.after(() => started.kill());
  return started;
}
