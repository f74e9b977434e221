// The UI's two downloads: the JSON export and the backup archive, streamed with backpressure.
import type { ServerResponse } from 'node:http';
import { EXPORT_FOOTER, exportHeader, exportLine } from '../backup/export-format.js';
import { backup, type PluginStateStorage } from '../index.js';

function attachment(response: ServerResponse, type: string, extension: string): void {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  response.writeHead(200, {
    'Content-Type': type,
    'Content-Disposition': `attachment; filename="plugin-states-${stamp}.${extension}"`,
  });
}

/** Writes a chunk, waiting for the socket to drain when its buffer is full. */
async function write(response: ServerResponse, text: string): Promise<void> {
  if (response.write(text)) return;
  await new Promise<void>((resolve, reject) => {
    const drained = () => {
      response.off('close', closed);
      resolve();
    };
    const closed = () => {
      response.off('drain', drained);
      reject(new Error('the client went away'));
    };
    response.once('drain', drained);
    response.once('close', closed);
  });
}

/** GET /api/export: every current state, in the format `plugin-state export` writes. */
export async function exportStates(response: ServerResponse, storage: PluginStateStorage): Promise<void> {
  const states = (await storage.listStates()).sort((a, b) => (a.pluginId < b.pluginId ? -1 : 1));
  attachment(response, 'application/json; charset=utf-8', 'json');
  await write(response, exportHeader(new Date()));
  for (const [i, state] of states.entries())
    await write(response, exportLine(state, i === states.length - 1));
  response.end(EXPORT_FOOTER);
}

/** GET /api/backup: the `backup()` archive, with every kept revision when `history`. */
export async function backupStates(
  response: ServerResponse,
  storage: PluginStateStorage,
  history: boolean,
): Promise<void> {
  attachment(response, 'application/x-ndjson; charset=utf-8', 'ndjson');
  await backup(storage, response, { history, source: 'plugin-state web UI' });
}
