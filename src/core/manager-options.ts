import type { RetryPolicy } from '../layers/retry/index.js';
import type { SecretScanPolicy } from '../layers/scan/index.js';
import type { ReportHook } from './types.js';

/**
 * Options of `PluginStateManager` and `PluginManager`, always their last argument.
 *
 * @example
 * const manager = PluginStateManager.withMemoryStorage({
 *   onReport: (report) => console.warn(`[plugin-state] ${report.message}`),
 * });
 */
export interface ManagerOptions {
  /**
   * Hears about every failure (beside the thrown error, never instead of it). A hook that throws
   * is ignored: logging must never break an operation.
   */
  onReport?: ReportHook;
  /**
   * Scans each save for secrets (private keys, cloud keys, JWTs, API tokens, card numbers):
   * `'warn'` (the default) saves and reports the JSON path and kind to `onReport`, `'refuse'`
   * rejects the save with a `ValidationError`, `'off'` does not scan. Never reports the secret.
   */
  secretScanning?: SecretScanPolicy;
  /**
   * What a plugin gets when its stored state is corrupt, fails its contract's schema or cannot be
   * migrated: `'throw'` (the default) fails the load with the typed error; `'default'` hands the
   * plugin its contract's default (or leaves it alone without one), keeps the stored record
   * untouched, and reports the event to `onReport`. A state stored at a newer version than the
   * contract is a `VersionIncompatibilityError` under either policy.
   */
  onInvalidState?: 'throw' | 'default';
  /**
   * Tries transient failures again (a busy file or database, a dropped connection) with
   * exponential backoff and jitter; see `retrying()`. On by default with 4 attempts within 10 s;
   * `false` turns it off. Each retry and recovery is reported to `onReport`.
   */
  retry?: RetryPolicy | false;
  /**
   * `PluginManager` only: how often a degraded storage is probed, in ms (default 2,000). See
   * `PluginManager.health()`.
   */
  storageProbeIntervalMs?: number;
}
