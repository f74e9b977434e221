// plugin-state get <id>: one state (or one kept revision), with its data.
import type { Command } from 'commander';
import { describeId, resolveId } from '../ids.js';
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
import { CliError } from '../output/errors.js';
import { formatBytes, formatDate, jsonSize, printJson } from '../output/format.js';
import { requireHistory, withStorage } from '../storage.js';

interface GetOptions extends CommonOptions {
  revision?: number;
  data?: boolean;
}

export function registerGet(program: Command): void {
  const command = program
    .command('get')
    .summary('show one state and its data')
    .description('Show one state: its version, revision, last change and data.')
    .argument('<id>', ID_HELP)
    .option('--revision <n>', 'show a revision kept in history instead of the current state', wholeNumber(1))
    .option('--data', 'print only the data, as JSON (what `set` reads back)');
  addCommonOptions(command);
  addJsonOption(command, '{ pluginId, version, revision, lastModified, size, data }');
  addExamples(
    command,
    'plugin-state get com.acme.theme',
    'plugin-state get 1b4e28ba-2fa1-41d2-883f-0016d3cca427 --revision 3 --json',
    'plugin-state get com.acme.theme --data > theme.json',
  );
  command.action(async (input: string, _options: GetOptions, self: Command) => {
    const options = optionsOf<GetOptions>(self);
    const id = resolveId(input);
    await withStorage(options.storage, async ({ storage }) => {
      const state =
        options.revision === undefined
          ? await storage.loadState(id.pluginId)
          : await requireHistory(storage).loadRevision(id.pluginId, options.revision);
      if (!state) {
        const what =
          options.revision === undefined ? 'no state is stored' : `revision ${options.revision} is not kept`;
        const next =
          options.revision === undefined
            ? "run 'plugin-state list' to see the stored ids"
            : `run 'plugin-state history ${input}' to see the kept revisions`;
        throw new CliError(`${what} for ${describeId(id)}; ${next}`);
      }
      if (options.data) {
        process.stdout.write(`${JSON.stringify(state.data, null, 2)}\n`);
        return;
      }
      const record = {
        pluginId: state.pluginId,
        version: state.version ?? 1,
        revision: state.revision ?? null,
        lastModified: state.lastModified.toISOString(),
        size: jsonSize(state.data),
        data: state.data,
      };
      if (options.json) {
        printJson(record);
        return;
      }
      const colours = coloursFor(process.stdout);
      const field = (label: string, value: string) => `${colours.dim(label.padEnd(9))} ${value}\n`;
      process.stdout.write(
        field('plugin', colours.cyan(describeId(id))) +
          field('version', String(record.version)) +
          field('revision', String(record.revision ?? '-')) +
          field('modified', formatDate(state.lastModified)) +
          field('size', formatBytes(record.size)) +
          `${JSON.stringify(state.data, null, 2)}\n`,
      );
    });
  });
}
