import type { PluginId } from '../../core/types.js';
import type { AccessAuditHook } from './access-audit.js';

/**
 * Options of `forPlugin(pluginId, options)` on `PluginStateManager` and `PluginManager`.
 *
 * @example
 * const controller = new AbortController();
 * const handle = manager.forPlugin(editorId, {
 *   read: [themeId],                                  // may read the theme plugin's state
 *   onAudit: (event) => auditLog.write(event.message), // every decision, allowed or denied
 *   signal: controller.signal,                        // abort when the plugin is unloaded
 * });
 */
export interface ForPluginOptions {
  /**
   * Plugins whose states the handle may read (never write or delete). Ids in any case; each must be
   * a UUID, or `forPlugin` throws a `ValidationError`. The list is copied when the handle is made:
   * changing the array afterwards grants or revokes nothing.
   */
  read?: readonly PluginId[];
  /**
   * Hears every access decision of this handle as a structured event. The manager's `onReport`
   * receives the same decisions as `StateReport`s (operation `access.get`, `access.set`,
   * `access.delete`) whether or not this is given.
   */
  onAudit?: AccessAuditHook;
  /** Once aborted, every call of the handle is a `PermissionError` (reason `revoked`). */
  signal?: AbortSignal;
}
