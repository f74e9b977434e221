// Managers over memory and file storage, plugin ids and collectors shared by the access-control tests.
import type { TestContext } from 'node:test';
import {
  type AccessAuditEvent,
  FileSystemStateStorage,
  MemoryStateStorage,
  PluginStateManager,
  type PluginStateStorage,
  pluginIdFromName,
  type StateReport,
} from '../../../src/index.js';
import { tempDir } from '../../helpers/temp-dir.js';

export const editorId = pluginIdFromName('test.access.editor');
export const themeId = pluginIdFromName('test.access.theme');
export const secretsId = pluginIdFromName('test.access.secrets');

export interface Setup {
  manager: PluginStateManager;
  storage: PluginStateStorage;
  reports: StateReport[];
  audits: AccessAuditEvent[];
  onAudit: (event: AccessAuditEvent) => void;
  /** The folder of the file backend; undefined for memory. */
  dir: string | undefined;
}

export interface Backend {
  name: string;
  setup(t: TestContext): Setup;
}

function setupWith(t: TestContext, storage: PluginStateStorage, dir?: string): Setup {
  const reports: StateReport[] = [];
  const audits: AccessAuditEvent[] = [];
  const manager = new PluginStateManager(storage, { onReport: (report) => reports.push(report) });
  t.after(() => manager.close());
  return { manager, storage, reports, audits, onAudit: (event) => audits.push(event), dir };
}

export const backends: Backend[] = [
  { name: 'memory', setup: (t) => setupWith(t, new MemoryStateStorage()) },
  {
    name: 'file',
    setup: (t) => {
      const dir = tempDir(t);
      return setupWith(t, new FileSystemStateStorage(dir), dir);
    },
  },
];

/** Stores one state for each of the three plugins, straight through the manager (as the host). */
export async function seed(manager: PluginStateManager): Promise<void> {
  for (const [id, data] of [
    [editorId, { tabs: 2 }],
    [themeId, { colour: 'dark' }],
    [secretsId, { token: 'do-not-leak' }],
  ] as const) {
    await manager.savePluginState({ pluginId: id, data: { ...data }, lastModified: new Date() });
  }
}

/** The reports of access decisions only (operation `access.*` without a storage failure). */
export function accessReports(reports: readonly StateReport[]): StateReport[] {
  return reports.filter((report) => report.operation.startsWith('access.'));
}
