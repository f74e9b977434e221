/**
 * A small plugin host: three plugins keep their state in `./.plugin-state/` (under the working
 * directory) with the library's default, durable file storage. Run it twice
 * (`npx tsx examples/plugin-host.ts`): the second run starts from what the first one saved.
 * `npm start` runs it through `examples/ui-host.ts`, which then serves the web UI on the same store.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginManager } from '../src/index.js';
import { LaunchCounterPlugin } from './plugins/launch-counter.js';
import { RecentFilesPlugin } from './plugins/recent-files.js';
import { ThemePlugin } from './plugins/theme.js';

/** The folder the example host keeps its states in. */
export const storageDir = process.env.PLUGIN_STATE_DIR ?? join(process.cwd(), '.plugin-state');

/** One session of the host: the plugins load their states, use them, and save them. */
export async function runPluginHost(dir: string = storageDir) {
  const manager = PluginManager.withFileStorage(dir);
  const plugins = [new LaunchCounterPlugin(), new ThemePlugin(), new RecentFilesPlugin()];
  for (const plugin of plugins) manager.registerPlugin(plugin);

  console.log(`plugin-state example host — states live in ${dir}\n`);
  await manager.loadAllPluginStates();
  for (const plugin of plugins) console.log(`loaded  ${plugin.name.padEnd(14)} ${plugin.describe()}`);

  // What a session of real use would do: each plugin changes its state.
  for (const plugin of plugins) plugin.use();

  console.log('');
  for (const plugin of plugins) console.log(`saving  ${plugin.name.padEnd(14)} ${plugin.describe()}`);
  await manager.shutdown(); // saves every plugin's state durably, then closes the storage

  const states = await PluginManager.withFileStorage(dir).listPluginStates();
  console.log(`\n${states.length} states on disk; run \`npm start\` again to see them survive a restart.`);
  for (const state of states.sort((a, b) => a.pluginId.localeCompare(b.pluginId))) {
    const name = plugins.find((plugin) => plugin.id === state.pluginId)?.name ?? 'unknown plugin';
    console.log(
      `  ${state.pluginId}.json  ${name.padEnd(14)} revision ${state.revision}  ${JSON.stringify(state.data)}`,
    );
  }
  return plugins;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runPluginHost();
