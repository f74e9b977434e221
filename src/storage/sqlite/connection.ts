import { setTimeout as sleep } from 'node:timers/promises';
import { StorageError } from '../../core/errors.js';
import type { PluginId } from '../../core/types.js';
import { isBusy, type SqliteDatabase, type SqliteStatement } from './driver.js';

/**
 * How long one attempt lets SQLite wait for a lock. better-sqlite3 is synchronous, so this wait
 * blocks the event loop: it is kept short, and longer waits happen between attempts, asynchronously.
 */
export const ATTEMPT_TIMEOUT_MS = 10;
const FIRST_PAUSE_MS = 1;
const MAX_PAUSE_MS = 25;

export interface ConnectionSettings {
  /** `PRAGMA synchronous` level for writes: 2 (FULL) or 1 (NORMAL). */
  synchronous: 1 | 2;
  /** Total time an operation waits for locks held by other connections. */
  busyTimeoutMs: number;
  /** The busy timeout of one attempt: how long SQLite itself may block the event loop. */
  attemptTimeoutMs: number;
  /** The database file, for messages. */
  filename: string;
}

/**
 * One better-sqlite3 connection and the rules for using it: every task runs synchronously (so no
 * transaction of ours ever spans an `await`), and SQLITE_BUSY is retried with backoff until
 * `busyTimeoutMs`, then reported as a lock held by another process.
 *
 * A connection the host owns is borrowed: around each task the store applies its short busy
 * timeout (and, for writes, its synchronous level) and puts the host's values back afterwards.
 */
export class Connection {
  private readonly begin: SqliteStatement;
  private readonly commit: SqliteStatement;
  private readonly rollback: SqliteStatement;
  private readonly pragmas = new Map<string, SqliteStatement>();

  constructor(
    readonly db: SqliteDatabase,
    readonly owned: boolean,
    private readonly settings: ConnectionSettings,
  ) {
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
  }

  /** Runs `task` on the connection, retrying while another connection holds the lock it needs. */
  async run<T>(operation: string, pluginId: PluginId | undefined, write: boolean, task: () => T): Promise<T> {
    const started = performance.now();
    let pause = FIRST_PAUSE_MS;
    for (;;) {
      // Tasks never leave a transaction open. On the store's own connection one can only be left by
      // a failed rollback, so it is ours to end; on a host's connection it is the host's: wait.
      if (this.db.inTransaction && this.owned) this.rollbackQuietly();
      let waitingFor: 'lock' | 'transaction' = 'transaction';
      let busy: unknown;
      if (!this.db.inTransaction) {
        const restore = this.borrow(write);
        try {
          return task();
        } catch (error) {
          if (!isBusy(error)) throw error;
          waitingFor = 'lock';
          busy = error;
        } finally {
          restore?.();
        }
      }
      const waited = performance.now() - started;
      if (waited >= this.settings.busyTimeoutMs)
        throw this.stillBusy(operation, pluginId, waitingFor, waited, busy);
      await sleep(Math.min(this.settings.busyTimeoutMs - waited, pause * (0.5 + Math.random())));
      pause = Math.min(pause * 2, MAX_PAUSE_MS);
    }
  }

  /** `BEGIN IMMEDIATE` … `COMMIT` around `task`; any failure rolls back, leaving the stored rows as they were. */
  transaction<T>(task: () => T): T {
    this.begin.run();
    try {
      const result = task();
      this.commit.run();
      return result;
    } catch (error) {
      this.rollbackQuietly();
      throw error;
    }
  }

  /** Runs a pragma through a statement prepared once per distinct text. */
  pragma(text: string): unknown {
    let statement = this.pragmas.get(text);
    if (!statement) {
      statement = this.db.prepare(`PRAGMA ${text}`);
      if (statement.reader) statement.pluck();
      this.pragmas.set(text, statement);
    }
    return statement.reader ? statement.get() : statement.run();
  }

  close(): void {
    this.pragmas.clear();
    if (this.owned) this.db.close();
  }

  private rollbackQuietly(): void {
    if (!this.db.inTransaction) return; // SQLite already rolled back (e.g. after an I/O error)
    try {
      this.rollback.run();
    } catch {
      // the connection is unusable; the failure that brought us here is the one to report
    }
  }

  /** Applies the store's settings to a host's connection; returns how to put the host's back. */
  private borrow(write: boolean): (() => void) | undefined {
    if (this.owned) return undefined;
    const restore: string[] = [];
    const timeout = this.pragma('busy_timeout');
    if (timeout !== this.settings.attemptTimeoutMs) {
      this.pragma(`busy_timeout = ${this.settings.attemptTimeoutMs}`);
      restore.push(`busy_timeout = ${Number(timeout)}`);
    }
    if (write) {
      const level = this.pragma('synchronous');
      if (level !== this.settings.synchronous) {
        this.pragma(`synchronous = ${this.settings.synchronous}`);
        restore.push(`synchronous = ${Number(level)}`);
      }
    }
    if (restore.length === 0) return undefined;
    return () => {
      for (const text of restore) {
        try {
          this.pragma(text);
        } catch {
          // the host's connection was closed under us; nothing left to restore
        }
      }
    };
  }

  private stillBusy(
    operation: string,
    pluginId: PluginId | undefined,
    waitingFor: 'lock' | 'transaction',
    waited: number,
    busy: unknown,
  ): StorageError {
    const subject = pluginId ? ` of plugin ${pluginId}` : '';
    const { filename, busyTimeoutMs } = this.settings;
    const ms = Math.round(waited);
    const message =
      waitingFor === 'lock'
        ? `${operation}${subject}: the SQLite database ${filename} is locked by another process (or connection): ` +
          `it stayed busy for ${ms} ms, past busyTimeoutMs (${busyTimeoutMs} ms). Nothing was changed by this call. ` +
          'Retry later, or raise busyTimeoutMs if writers hold the database this long.'
        : `${operation}${subject}: the better-sqlite3 Database given to SqliteStateStorage (${filename}) has a transaction ` +
          `open, and the store waited ${ms} ms (busyTimeoutMs) for it to end. Nothing was changed by this call. ` +
          'Commit or roll back that transaction before calling the store, or give the store a Database of its own.';
    // The SQLITE_BUSY error stays the cause, so that retrying() knows the failure is transient.
    return new StorageError(message, {
      pluginId,
      operation,
      location: filename,
      ...(busy === undefined ? {} : { cause: busy }),
    });
  }
}
