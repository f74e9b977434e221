/**
 * `npm start`: one session of the example plugin host (its three plugins load, use and save their
 * states in `./.plugin-state/`, creating them on the first run), then the web UI on that store.
 * It prints the URL to open (with its access token) and serves until Ctrl-C.
 */
import { openStorage } from '../src/index.js';
import { startUiServer } from '../src/ui/index.js';
import { runPluginHost, storageDir } from './plugin-host.js';

const plugins = await runPluginHost(storageDir);

const storage = await openStorage(`file:${storageDir}`);
const ui = await startUiServer({
  storage,
  pluginNames: new Map(plugins.map((plugin) => [plugin.id, plugin.name])),
});
console.log(`\nWeb UI: ${ui.url}`);
console.log('Open it in a browser to look at, edit, compare and restore these states. Ctrl-C stops it.');

async function stop(): Promise<void> {
  await ui.close();
  await storage.close?.();
  console.log('Web UI stopped.');
  process.exit(0);
}
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
