import type { PoolConfig } from 'pg';
import { StorageError } from '../../core/errors.js';
import { DeadlineError } from './errors.js';
import type { PostgresPool } from './options.js';

type PoolConstructor = new (
  config: PoolConfig,
) => PostgresPool & {
  on(event: 'error', listener: (error: Error) => void): unknown;
};

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    /Cannot find (?:package|module) ['"]pg['"]/.test(message)
  );
}

/**
 * Loads node-postgres on first use: it is an optional peer dependency, so importing this module
 * (or the package root) never requires it.
 */
export async function loadPool(): Promise<PoolConstructor> {
  let loaded: unknown;
  try {
    loaded = await import('pg');
  } catch (error) {
    if (isMissing(error)) {
      throw new StorageError(
        'open: PostgresStateStorage needs the PostgreSQL driver, which is not installed: install pg (npm install pg).',
        { operation: 'open', cause: error },
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new StorageError(`open: PostgresStateStorage could not load the pg package: ${reason}`, {
      operation: 'open',
      cause: error,
    });
  }
  // pg is CommonJS: its exports arrive as the default export (and, by some loaders, also by name).
  const module = loaded as { default?: { Pool?: unknown }; Pool?: unknown };
  const Pool = module.default?.Pool ?? module.Pool;
  if (typeof Pool !== 'function') {
    throw new StorageError(
      'open: the installed pg package has no Pool class; install pg 8 (npm install pg@8).',
      {
        operation: 'open',
      },
    );
  }
  return Pool as PoolConstructor;
}

/**
 * Settles like `promise`, or rejects with a `DeadlineError` after `ms`. node-postgres has its own
 * timeouts, which a pool the host configured may leave off; this is the backstop that keeps any
 * operation from hanging. `onLate` receives a value that arrives after the deadline (a connection
 * to give back).
 */
export function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onLate?: (value: T) => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(new DeadlineError(`${what}: no answer within ${ms} ms`));
    }, ms);
  });
  promise.then(
    (value) => {
      if (expired) onLate?.(value);
    },
    () => undefined, // a failure after the deadline has nobody left to tell
  );
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
