// Which storage a command works on, and opening it through the public `openStorage(url)`.
import {
  openStorage,
  type PluginStateStorage,
  type StateReport,
  type StorageOptions,
  ValidationError,
} from '../index.js';
import { UsageError } from './output/errors.js';

/** The embedded file store `npm start` uses: `./.plugin-state` under the working directory. */
export const DEFAULT_STORAGE_URL = 'file:./.plugin-state';

/**
 * The storage URL: `--storage`, else `PLUGIN_STATE_URL`, else `PLUGIN_STATE_DIR` as a file store
 * (what the example host reads), else {@link DEFAULT_STORAGE_URL}.
 */
export function storageUrl(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (option !== undefined) return option;
  if (env.PLUGIN_STATE_URL) return env.PLUGIN_STATE_URL;
  if (env.PLUGIN_STATE_DIR) return `file:${env.PLUGIN_STATE_DIR}`;
  return DEFAULT_STORAGE_URL;
}

/** A password in a URL is never printed. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}

export interface OpenedStorage {
  storage: PluginStateStorage;
  url: string;
  /** Records `listStates` skipped as unreadable, as the storage reported them. */
  skipped: StateReport[];
  /** Every report the storage made (skipped records of `listRevisions` too). */
  reports: StateReport[];
}

/**
 * Opens the storage, runs `work`, and closes the storage whatever happens. A URL the library
 * refuses is a usage error (exit 2).
 */
export async function withStorage<T>(
  option: string | undefined,
  work: (opened: OpenedStorage) => Promise<T>,
  options: Pick<StorageOptions, 'limits'> = {},
): Promise<T> {
  const url = storageUrl(option);
  const skipped: StateReport[] = [];
  const reports: StateReport[] = [];
  let storage: PluginStateStorage;
  try {
    storage = await openStorage(url, {
      ...options,
      onReport: (report) => {
        reports.push(report);
        if (report.operation === 'listStates' && report.pluginId !== undefined) skipped.push(report);
      },
    });
  } catch (error) {
    if (error instanceof ValidationError && error.operation === 'openStorage') {
      throw new UsageError(`${error.message} (from ${sourceOf(option)})`, 'plugin-state', { cause: error });
    }
    throw error;
  }
  let result: T;
  try {
    result = await work({ storage, url, skipped, reports });
  } catch (error) {
    await storage.close?.().catch(() => undefined); // the work's failure is the one to report
    throw error;
  }
  await storage.close?.();
  return result;
}

function sourceOf(option: string | undefined): string {
  if (option !== undefined) return '--storage';
  if (process.env.PLUGIN_STATE_URL) return 'PLUGIN_STATE_URL';
  return 'PLUGIN_STATE_DIR';
}

/** A storage without the history methods (a third party's) cannot answer history commands. */
export function requireHistory(
  storage: PluginStateStorage,
): Required<Pick<PluginStateStorage, 'listRevisions' | 'loadRevision' | 'restoreRevision' | 'purgeState'>> {
  const { listRevisions, loadRevision, restoreRevision, purgeState } = storage;
  if (!listRevisions || !loadRevision || !restoreRevision || !purgeState) {
    throw new UsageError(
      'this storage keeps no history; use a built-in storage URL (file:, sqlite:, postgres://)',
    );
  }
  return {
    listRevisions: listRevisions.bind(storage),
    loadRevision: loadRevision.bind(storage),
    restoreRevision: restoreRevision.bind(storage),
    purgeState: purgeState.bind(storage),
  };
}
