// What several commands print about states: a one-line summary of each, and the records a list
// had to skip.
import type { PluginState, StateReport } from '../index.js';
import { coloursFor } from './output/colour.js';
import { jsonSize, plural } from './output/format.js';

/** A state without its data, as `list --json` prints it. */
export interface StateSummary {
  pluginId: string;
  version: number;
  revision: number | null;
  size: number;
  lastModified: string;
}

export function summarize(state: PluginState): StateSummary {
  return {
    pluginId: state.pluginId,
    version: state.version ?? 1,
    revision: state.revision ?? null,
    size: jsonSize(state.data),
    lastModified: state.lastModified.toISOString(),
  };
}

/** A record a list could not read, as `--json` prints it. */
export function skippedRecord(report: StateReport): { pluginId: string; code?: string; message: string } {
  return {
    pluginId: report.pluginId!,
    ...(report.code === undefined ? {} : { code: report.code }),
    message: report.error instanceof Error ? report.error.message : report.message,
  };
}

/** One warning line on stderr per unreadable record, and where to go next. */
export function warnSkipped(skipped: readonly StateReport[]): void {
  if (skipped.length === 0) return;
  const colours = coloursFor(process.stderr);
  for (const report of skipped) {
    process.stderr.write(
      `${colours.yellow('warning:')} skipped ${report.pluginId}: ${skippedRecord(report).message}\n`,
    );
  }
  process.stderr.write(
    `${plural(skipped.length, 'record')} could not be read; run 'plugin-state verify' for details.\n`,
  );
}
