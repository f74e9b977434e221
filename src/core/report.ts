import { describeError, PluginStateError } from './errors.js';
import type { ReportHook, StateReport } from './types.js';

/** Sends reports to a host's `onReport` hook, shielding every operation from the hook itself. */
export class Reporter {
  constructor(private readonly hook: ReportHook | undefined) {}

  /** Reports that `operation` failed, for one plugin or (without `pluginId`) for the whole call. */
  failure(operation: string, pluginId: string | undefined, error: unknown): void {
    const subject = pluginId === undefined ? '' : ` of plugin ${pluginId}`;
    this.send({
      operation,
      ...(pluginId === undefined ? {} : { pluginId }),
      ...(error instanceof PluginStateError ? { code: error.code } : {}),
      error,
      recovered: false,
      message: `${operation}${subject} failed: ${describeError(error)}`,
    });
  }

  send(report: StateReport): void {
    if (!this.hook) return;
    try {
      this.hook(report);
    } catch {
      // A host's logging bug must not turn an operation's outcome into a different failure.
    }
  }
}
