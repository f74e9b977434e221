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
}
