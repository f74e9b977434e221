// plugin-state restore <id> <revision>: save a kept revision again, as a new revision.
import type { Command } from 'commander';
import { ValidationError } from '../../index.js';
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
import { printJson } from '../output/format.js';
import { requireHistory, withStorage } from '../storage.js';

interface RestoreOptions extends CommonOptions {
  ifRevision?: number;
}

export function registerRestore(program: Command): void {
  const command = program
    .command('restore')
    .summary('save a kept revision again as the current one')
    .description(
      'Save a kept revision of a state again, as a new revision (history is never rewritten); also undoes a delete.',
    )
    .argument('<id>', ID_HELP)
    .argument('<revision>', "a revision listed by 'history'", wholeNumber(1))
    .option(
      '--if-revision <n>',
      'only if revision n is the current one (0: only if the state is deleted)',
      wholeNumber(0),
    );
  addCommonOptions(command);
  addJsonOption(command, '{ pluginId, restoredFrom, revision, version, lastModified }');
  addExamples(command, 'plugin-state history com.acme.theme', 'plugin-state restore com.acme.theme 4');
  command.action(async (input: string, revision: number, _options: RestoreOptions, self: Command) => {
    const options = optionsOf<RestoreOptions>(self);
    const id = resolveId(input);
    await withStorage(options.storage, async ({ storage }) => {
      const history = requireHistory(storage);
      const saved = await history
        .restoreRevision(
          id.pluginId,
          revision,
          options.ifRevision === undefined ? {} : { expectedRevision: options.ifRevision },
        )
        .catch(async (error: unknown) => {
          if (
            !(error instanceof ValidationError && error.issues.some((issue) => issue.path === 'revision'))
          ) {
            throw error;
          }
          const kept = (await history.listRevisions(id.pluginId)).map((r) => r.revision).join(', ') || 'none';
          throw new CliError(
            `revision ${revision} of ${describeId(id)} is not kept (kept: ${kept}); pick one listed by 'plugin-state history ${input}'`,
            undefined,
            { cause: error },
          );
        });
      if (options.json) {
        printJson({
          pluginId: saved.pluginId,
          restoredFrom: revision,
          revision: saved.revision ?? null,
          version: saved.version ?? 1,
          lastModified: saved.lastModified.toISOString(),
        });
        return;
      }
      const colours = coloursFor(process.stdout);
      process.stdout.write(
        `${colours.green('restored')} revision ${revision} of ${describeId(id)}: it is now revision ${saved.revision ?? '?'}\n`,
      );
    });
  });
}
