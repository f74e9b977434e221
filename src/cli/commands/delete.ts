// plugin-state delete <id>: remove a state (its last revision stays in history, so it can be undone).
import type { Command } from 'commander';
import { SerializationError } from '../../index.js';
import { describeId, resolveId } from '../ids.js';
import {
  addCommonOptions,
  addExamples,
  addJsonOption,
  type CommonOptions,
  ID_HELP,
  optionsOf,
} from '../options.js';
import { coloursFor } from '../output/colour.js';
import { printJson } from '../output/format.js';
import { requireHistory, withStorage } from '../storage.js';

interface DeleteOptions extends CommonOptions {
  purge?: boolean;
}

export function registerDelete(program: Command): void {
  const command = program
    .command('delete')
    .summary('delete a state (undo with restore)')
    .description(
      "Delete a state. Its last revision stays in history, so 'restore' can undo it; --purge removes the history too.",
    )
    .argument('<id>', ID_HELP)
    .option('--purge', 'also remove every kept revision (cannot be undone)');
  addCommonOptions(command);
  addJsonOption(command, '{ pluginId, deleted, revision, purged }');
  addExamples(command, 'plugin-state delete com.acme.theme', 'plugin-state delete com.acme.theme --purge');
  command.action(async (input: string, _options: DeleteOptions, self: Command) => {
    const options = optionsOf<DeleteOptions>(self);
    const id = resolveId(input);
    await withStorage(options.storage, async ({ storage }) => {
      // What is there decides the message; a corrupt record can still be deleted.
      const stored = await storage.loadState(id.pluginId).catch((error: unknown) => {
        if (error instanceof SerializationError) return { revision: undefined };
        throw error;
      });
      if (options.purge) await requireHistory(storage).purgeState(id.pluginId);
      else await storage.deleteState(id.pluginId);
      const result = {
        pluginId: id.pluginId,
        deleted: stored !== undefined,
        revision: stored?.revision ?? null,
        purged: options.purge === true,
      };
      if (options.json) {
        printJson(result);
        return;
      }
      const colours = coloursFor(process.stdout);
      if (!stored) {
        process.stdout.write(
          options.purge
            ? `no state was stored for ${describeId(id)}; its history (if any) is purged\n`
            : `no state is stored for ${describeId(id)}; nothing was deleted\n`,
        );
      } else if (options.purge) {
        process.stdout.write(`${colours.red('purged')} ${describeId(id)} and every kept revision\n`);
      } else {
        const undo =
          stored.revision === undefined
            ? ''
            : ` (undo: plugin-state restore ${id.pluginId} ${stored.revision})`;
        process.stdout.write(`${colours.red('deleted')} ${describeId(id)}${undo}\n`);
      }
    });
  });
}
