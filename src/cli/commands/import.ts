// plugin-state import <file>: the export format back into a storage, checked whole before writing.
import type { Command } from 'commander';
import { checkExport, type ImportedState } from '../../backup/export-format.js';
import { parseJsonInput, readInput } from '../io.js';
import { addCommonOptions, addExamples, addJsonOption, type CommonOptions, optionsOf } from '../options.js';
import { coloursFor } from '../output/colour.js';
import { CliError } from '../output/errors.js';
import { plural, printJson } from '../output/format.js';
import { progressBar } from '../output/progress.js';
import { forEachPooled } from '../pool.js';
import { withStorage } from '../storage.js';

interface ImportOptions extends CommonOptions {
  dryRun?: boolean;
}

export function registerImport(program: Command): void {
  const command = program
    .command('import')
    .summary('read an export back, checked whole before writing')
    .description(
      "Read a document written by 'export' and save each state in it as a new revision; states not in it are " +
        'left alone. Every state is checked first: one bad state and nothing is written.',
    )
    .argument('<file>', 'the export file, or - for stdin')
    .option('--dry-run', 'only check the file and say what would be saved');
  addCommonOptions(command);
  addJsonOption(command, '{ imported, dryRun }');
  addExamples(
    command,
    'plugin-state import states.json',
    'plugin-state import states.json --dry-run --storage sqlite:./states.db',
  );
  command.action(async (file: string, _options: ImportOptions, self: Command) => {
    const options = optionsOf<ImportOptions>(self);
    const document = parseJsonInput(await readInput(file, 'the export'), file, 'the export');
    const checked = await checkExport(document);
    if (!checked.ok) {
      const shown = checked.problems.slice(0, 3).join('; ');
      const more = checked.problems.length > 3 ? ` (and ${checked.problems.length - 3} more)` : '';
      throw new CliError(
        `cannot import ${file}, nothing was written: ${shown}${more}; fix the file and run again`,
      );
    }
    await withStorage(options.storage, async ({ storage }) => {
      const states = checked.states;
      if (!options.dryRun) await saveAll(states, (state) => storage.saveState(state).then(() => undefined));
      if (options.json) {
        printJson({
          imported: options.dryRun ? 0 : states.length,
          checked: states.length,
          dryRun: options.dryRun === true,
        });
        return;
      }
      const colours = coloursFor(process.stdout);
      process.stdout.write(
        options.dryRun
          ? `${plural(states.length, 'state')} checked; none written (--dry-run)\n`
          : `${colours.green('imported')} ${plural(states.length, 'state')}\n`,
      );
    });
  });
}

/** Saves every state, a few at a time; the first failure stops it with how far it got. */
async function saveAll(states: readonly ImportedState[], save: (state: ImportedState) => Promise<void>) {
  const progress = progressBar('import');
  let done = 0;
  try {
    await forEachPooled(states, async (state) => {
      try {
        await save(state);
      } catch (error) {
        throw new SaveFailure(state, error);
      }
      progress.update(++done, states.length);
    });
  } catch (failure) {
    if (!(failure instanceof SaveFailure)) throw failure;
    const { state, error } = failure;
    const message = error instanceof Error ? error.message : String(error);
    throw new CliError(
      `import stopped after saving ${done} of ${states.length} states: ${state.pluginId}: ${message} ` +
        '(the saved states stay; running the import again is safe)',
      undefined,
      { cause: error },
    );
  } finally {
    progress.finish();
  }
}

class SaveFailure extends Error {
  constructor(
    readonly state: ImportedState,
    readonly error: unknown,
  ) {
    super(`saving ${state.pluginId} failed`);
  }
}
