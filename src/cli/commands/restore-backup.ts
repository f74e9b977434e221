// plugin-state restore-backup <file>: an archive from 'backup' back into a storage, verified first.

import type { Command } from 'commander';
import { Option } from 'commander';
import { restore } from '../../index.js';
import { addCommonOptions, addExamples, addJsonOption, type CommonOptions, optionsOf } from '../options.js';
import { coloursFor } from '../output/colour.js';
import { plural, printJson } from '../output/format.js';
import { progressBar } from '../output/progress.js';
import { withStorage } from '../storage.js';

interface RestoreBackupOptions extends CommonOptions {
  mode: 'merge' | 'replace';
  history: boolean;
  dryRun?: boolean;
}

export function registerRestoreBackup(program: Command): void {
  const command = program
    .command('restore-backup')
    .summary('restore an archive, verified before writing')
    .description(
      "Restore an archive written by 'backup'. The whole archive is verified (checksums, counts, every record) " +
        'before anything is written: a damaged archive exits 1 and leaves the storage untouched. Each state is saved ' +
        'as a new revision.',
    )
    .argument('<file>', 'the archive')
    .addOption(
      new Option(
        '--mode <mode>',
        'merge: leave states the archive lacks; replace: delete them (undo with restore)',
      )
        .choices(['merge', 'replace'])
        .default('merge'),
    )
    .option('--no-history', "do not write the archive's history records, only current states")
    .option('--dry-run', 'only verify the archive and count what would be written');
  addCommonOptions(command);
  addJsonOption(command, '{ mode, dryRun, restored, revisions, skipped, deleted, archive }');
  addExamples(
    command,
    'plugin-state restore-backup states.ndjson --dry-run',
    'plugin-state restore-backup states.ndjson --mode replace --storage sqlite:./states.db',
  );
  command.action(async (file: string, _options: RestoreBackupOptions, self: Command) => {
    const options = optionsOf<RestoreBackupOptions>(self);
    await withStorage(options.storage, async ({ storage }) => {
      const progress = progressBar('restore');
      let result: Awaited<ReturnType<typeof restore>>;
      try {
        result = await restore(storage, file, {
          mode: options.mode,
          history: options.history,
          dryRun: options.dryRun === true,
          onProgress: ({ phase, done, total }) => progress.update(done, total, phase),
        });
      } finally {
        progress.finish();
      }
      if (options.json) {
        printJson({
          ...result,
          archive: { ...result.archive, createdAt: result.archive.createdAt.toISOString() },
        });
        return;
      }
      const colours = coloursFor(process.stdout);
      const revisions = result.revisions > 0 ? `, ${plural(result.revisions, 'history record')}` : '';
      const deleted = result.mode === 'replace' ? `, ${plural(result.deleted, 'state')} deleted` : '';
      const verb = result.dryRun ? 'would restore' : 'restored';
      process.stdout.write(
        `${colours.green('verified')} ${file}: ${plural(result.archive.states, 'state')} from ${result.archive.createdAt.toISOString()}\n` +
          `${verb} ${plural(result.restored, 'state')}${revisions}${deleted}${result.dryRun ? ' (--dry-run: nothing written)' : ''}\n`,
      );
    });
  });
}
