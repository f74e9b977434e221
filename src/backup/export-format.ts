// The document that `plugin-state export` and the web UI's export download write, and that
// `plugin-state import` reads: plain JSON, one state per line inside it, so
// it diffs well and `jq` reads it. Only current states; `backup` is the format with history and
// checksums.
import type { JsonValue, PluginState } from '../core/types.js';
import { isPluginId, MemoryStateStorage, PluginStateError } from '../index.js';

export const EXPORT_FORMAT = 'plugin-state-export';
export const EXPORT_FORMAT_VERSION = 1;

/** One state in an export. `revision` is informative: an import saves a new revision. */
export interface ExportedState {
  pluginId: string;
  version: number;
  revision: number | null;
  lastModified: string;
  data: JsonValue;
}

/** The document's opening, up to the first state. */
export function exportHeader(exportedAt: Date): string {
  const head = JSON.stringify({
    format: EXPORT_FORMAT,
    formatVersion: EXPORT_FORMAT_VERSION,
    exportedAt: exportedAt.toISOString(),
  });
  return `${head.slice(0, -1)},"states":[\n`;
}

export const EXPORT_FOOTER = ']}\n';

/** One state's line of the document; every line but the last ends with a comma. */
export function exportLine(state: PluginState, last: boolean): string {
  const entry: ExportedState = {
    pluginId: state.pluginId,
    version: state.version ?? 1,
    revision: state.revision ?? null,
    lastModified: state.lastModified.toISOString(),
    data: state.data,
  };
  return `${JSON.stringify(entry)}${last ? '' : ','}\n`;
}

/** What an import may write: checked states, or every problem found (nothing is written then). */
export type ImportCheck = { ok: true; states: ImportedState[] } | { ok: false; problems: string[] };

export interface ImportedState {
  pluginId: string;
  version: number;
  lastModified: Date;
  data: JsonValue;
}

/**
 * Checks a whole parsed export before anything is written: its shape, every id (a UUID, once),
 * version and date, and every state's data by saving it into a memory store, which applies the
 * same checks as every storage (plain JSON, depth and size limits, dangerous keys).
 */
export async function checkExport(document: unknown): Promise<ImportCheck> {
  const problems: string[] = [];
  if (!isObject(document) || document.format !== EXPORT_FORMAT) {
    return {
      ok: false,
      problems: [
        `it is not a plugin-state export (no "format": "${EXPORT_FORMAT}"); make one with 'plugin-state export'`,
      ],
    };
  }
  if (document.formatVersion !== EXPORT_FORMAT_VERSION) {
    return {
      ok: false,
      problems: [
        `its formatVersion ${JSON.stringify(document.formatVersion)} is not ${EXPORT_FORMAT_VERSION}, the one this version reads`,
      ],
    };
  }
  if (!Array.isArray(document.states)) return { ok: false, problems: ['its "states" is not an array'] };
  const states: ImportedState[] = [];
  const seen = new Set<string>();
  const memory = new MemoryStateStorage({ history: 0 });
  try {
    for (const [index, entry] of document.states.entries()) {
      const at = `states[${index}]`;
      if (!isObject(entry)) {
        problems.push(`${at} is not an object`);
        continue;
      }
      const { pluginId, version = 1, lastModified, data } = entry;
      if (!isPluginId(pluginId)) {
        problems.push(`${at}.pluginId ${JSON.stringify(pluginId)} is not a UUID`);
        continue;
      }
      const id = pluginId.toLowerCase();
      if (seen.has(id)) problems.push(`${at}.pluginId ${id} appears more than once`);
      seen.add(id);
      if (!Number.isSafeInteger(version) || (version as number) < 1) {
        problems.push(`${at}.version ${JSON.stringify(version)} is not a whole number >= 1`);
      }
      const date = lastModified === undefined ? new Date() : new Date(lastModified as string);
      if (typeof (lastModified ?? '') !== 'string' || Number.isNaN(date.getTime())) {
        problems.push(`${at}.lastModified ${JSON.stringify(lastModified)} is not an ISO date`);
      }
      if (!('data' in entry)) {
        problems.push(`${at} has no "data"`);
        continue;
      }
      try {
        await memory.saveState({ pluginId: id, data: data as JsonValue, lastModified: new Date() });
        await memory.deleteState(id);
      } catch (error) {
        if (!(error instanceof PluginStateError)) throw error;
        problems.push(`${at} (${id}): ${error.message}`);
        continue;
      }
      states.push({ pluginId: id, version: version as number, lastModified: date, data: data as JsonValue });
    }
  } finally {
    await memory.close();
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, states };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
