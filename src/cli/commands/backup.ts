// plugin-state backup <file>: one checksummed archive of every state (and, with --history, its revisions).
import type { Command } from 'commander';
import { backup } from '../../index.js';
import { addCommonOptions, addExamples, addJsonOption, type CommonOptions, optionsOf } from '../options.js';
import { coloursFor } from '../output/colour.js';
import { Exit } from '../output/errors.js';
import { formatBytes, plural, printJson } from '../output/format.js';
import { progressBar } from '../output/progress.js';
import { withStorage } from '../storage.js';
import { warnSkipped } from '../summary.js';

interface BackupOptions extends CommonOptions {
  history?: boolean;
}

export function registerBackup(program: Command): void {
  const command = program
    .command('backup')
    .summary('write a checksummed archive of every state')
    .description(
      'Write every state to one portable, checksummed archive (NDJSON), while the store stays in use. ' +
        "The file is written atomically with mode 0600; 'restore-backup' reads it into any storage.",
    )
    .argument('<file>', 'the archive to write (replaced atomically if it exists)')
    .option('--history', 'also archive every revision kept in history');
  addCommonOptions(command);
  addJsonOption(command, '{ path, createdAt, states, records, bytes, sha256 }');
  addExamples(
    command,
    'plugin-state backup states.ndjson',
    'plugin-state backup /var/backups/states.ndjson --history --storage sqlite:./states.db',
  );
  command.action(async (file: string, _options: BackupOptions, self: Command) => {
    const options = optionsOf<BackupOptions>(self);
    await withStorage(options.storage, async ({ storage, skipped }) => {
      const progress = progressBar('backup');
      let result: Awaited<ReturnType<typeof backup>>;
      try {
        result = await backup(storage, file, {
          history: options.history === true,
          onProgress: ({ done, total }) => progress.update(done, total),
        });
      } finally {
        progress.finish();
      }
      if (options.json) {
        printJson({ ...result, createdAt: result.createdAt.toISOString(), skipped: skipped.length });
      } else {
        const colours = coloursFor(process.stdout);
        const records = options.history ? ` (${plural(result.records, 'record')} with history)` : '';
        process.stdout.write(
          `${colours.green('backed up')} ${plural(result.states, 'state')}${records} to ${result.path ?? file}, ` +
            `${formatBytes(result.bytes)}, sha256 ${result.sha256}\n`,
        );
      }
      if (skipped.length > 0) {
        warnSkipped(skipped);
        process.stderr.write(
          `the backup is missing ${plural(skipped.length, 'unreadable record')}; repair them (see 'plugin-state verify') and back up again\n`,
        );
        throw new Exit(1);
      }
    });
  });
}
