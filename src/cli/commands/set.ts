// plugin-state set <id> [file|-]: store new data for a state, optionally by compare-and-set.
import type { Command } from 'commander';
import type { JsonValue } from '../../index.js';
import { describeId, resolveId } from '../ids.js';
import { parseJsonInput, readInput } from '../io.js';
import {
  addCommonOptions,
  addExamples,
  addJsonOption,
  type CommonOptions,
  ID_HELP,
  optionsOf,
  wholeNumber,
} from '../options.js';
import { coloursFor } from '../output/colour.js';
import { printJson } from '../output/format.js';
import { withStorage } from '../storage.js';

interface SetOptions extends CommonOptions {
  ifRevision?: number;
  version?: number;
}

export function registerSet(program: Command): void {
  const command = program
    .command('set')
    .summary('store new data for a state (JSON from a file or stdin)')
    .description(
      'Store new data for a state, read as JSON from a file or stdin. The data is checked (plain JSON, ' +
        'within the size and depth limits) before anything is written.',
    )
    .argument('<id>', ID_HELP)
    .argument('[file]', 'a JSON file holding the data, or - for stdin (the default)')
    .option(
      '--if-revision <n>',
      'compare-and-set: save only if revision n is stored (0: only if nothing is stored); exit 1 otherwise',
      wholeNumber(0),
    )
    .option('--version <n>', "the data's schema version (default: the stored state's, or 1)", wholeNumber(1));
  addCommonOptions(command);
  addJsonOption(command, '{ pluginId, version, revision, lastModified }');
  addExamples(
    command,
    'plugin-state set com.acme.theme theme.json',
    `echo '{"theme":"dark"}' | plugin-state set com.acme.theme - --if-revision 3`,
  );
  command.action(async (input: string, file: string | undefined, _options: SetOptions, self: Command) => {
    const options = optionsOf<SetOptions>(self);
    const id = resolveId(input);
    const data = parseJsonInput(await readInput(file, 'the data'), file, 'the data') as JsonValue;
    await withStorage(options.storage, async ({ storage }) => {
      // Without --version the state keeps the version it has: editing by hand must not silently
      // mark a version-3 state as version 1.
      const version =
        options.version ?? (await storage.loadState(id.pluginId).catch(() => undefined))?.version ?? 1;
      const saved = await storage.saveState(
        { pluginId: id.pluginId, data, version, lastModified: new Date() },
        options.ifRevision === undefined ? {} : { expectedRevision: options.ifRevision },
      );
      if (options.json) {
        printJson({
          pluginId: saved.pluginId,
          version: saved.version ?? 1,
          revision: saved.revision ?? null,
          lastModified: saved.lastModified.toISOString(),
        });
        return;
      }
      const colours = coloursFor(process.stdout);
      process.stdout.write(
        `${colours.green('saved')} ${describeId(id)} as revision ${saved.revision ?? '?'} (version ${saved.version ?? 1})\n`,
      );
    });
  });
}
