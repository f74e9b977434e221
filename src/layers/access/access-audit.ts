import type { PluginStateError } from '../../core/errors.js';
import type { Reporter } from '../../core/report.js';
import type { PluginId } from '../../core/types.js';

/** What a handle was asked to do: read (`get`), write (`set`) or delete (`delete`) a state. */
export type AccessOperation = 'get' | 'set' | 'delete';

/**
 * Why a request was allowed or denied:
 * - `own`: the handle's own state (allowed);
 * - `granted`: reading a plugin listed in `read` (allowed);
 * - `not-granted`: reading an unlisted plugin, or writing or deleting another plugin's state (denied);
 * - `revoked`: the handle's `signal` was aborted (denied);
 * - `invalid`: the id or the argument was malformed; the error is a `ValidationError` (denied).
 */
export type AccessReason = 'own' | 'granted' | 'not-granted' | 'revoked' | 'invalid';

/** One access decision of a {@link PluginStateHandle}, as the `onAudit` hook receives it. */
export interface AccessAuditEvent {
  operation: AccessOperation;
  /** The plugin the handle belongs to: the caller. */
  pluginId: PluginId;
  /**
   * The plugin whose state was asked for, in canonical form; for an invalid id, a short quoted
   * excerpt of what was passed (never the whole value, so a plugin cannot flood or forge log lines).
   */
  targetPluginId: string;
  allowed: boolean;
  reason: AccessReason;
  /** The error thrown to the plugin when the request was denied. */
  error?: PluginStateError;
  /** One line saying who asked for what and the decision, as `onReport` also receives it. */
  message: string;
  time: Date;
}

/** Receives every access decision; a hook that throws is ignored, it never changes the outcome. */
export type AccessAuditHook = (event: AccessAuditEvent) => void;

const VERBS: Record<AccessOperation, string> = { get: 'read', set: 'write', delete: 'delete' };

/**
 * Sends each decision to the handle's `onAudit` hook and, as a `StateReport` with operation
 * `access.get` / `access.set` / `access.delete`, to the manager's `onReport`. An allowed access
 * reports no `code`; a denied one reports the error's `code` and `recovered: false`.
 */
export class AccessAuditor {
  constructor(
    private readonly reporter: Reporter,
    private readonly hook: AccessAuditHook | undefined,
    private readonly pluginId: PluginId,
  ) {}

  allowed(operation: AccessOperation, target: PluginId, reason: 'own' | 'granted'): void {
    const how = reason === 'own' ? 'its own state' : `the state of plugin ${target} (listed in read)`;
    this.send(operation, target, reason, `${VERBS[operation]} ${how}: allowed.`, undefined);
  }

  denied(operation: AccessOperation, target: string, reason: AccessReason, error: PluginStateError): void {
    const what = target === this.pluginId ? 'its own state' : `the state of plugin ${target}`;
    this.send(operation, target, reason, `${VERBS[operation]} ${what}: denied (${reason}).`, error);
  }

  private send(
    operation: AccessOperation,
    target: string,
    reason: AccessReason,
    decision: string,
    error: PluginStateError | undefined,
  ): void {
    const message = `access.${operation}: plugin ${this.pluginId} asked to ${decision}`;
    this.reporter.send({
      operation: `access.${operation}`,
      pluginId: this.pluginId,
      ...(error ? { code: error.code, error, recovered: false } : {}),
      message,
    });
    if (!this.hook) return;
    const event: AccessAuditEvent = {
      operation,
      pluginId: this.pluginId,
      targetPluginId: target,
      allowed: error === undefined,
      reason,
      ...(error ? { error } : {}),
      message,
      time: new Date(),
    };
    try {
      this.hook(event);
    } catch {
      // An audit logger's bug must not turn an access decision into a different outcome.
    }
  }
}
