#!/usr/bin/env node
// The `plugin-state` command: wiring only. Each command lives in commands/<name>.ts and talks to
// storage only through the public API (src/index.ts), as any other program would.
//
// Arguments are parsed by commander (14.x, the last line that supports Node 20): the most used
// argument parser for Node, maintained for over a decade, with zero dependencies of its own, and it
// gives every command its --help, typed option parsing, choices and precise usage errors.
// Writing a parser by hand would mean re-implementing all of that, less well tested.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerBackup } from './commands/backup.js';
import { registerDelete } from './commands/delete.js';
import { registerExport } from './commands/export.js';
import { registerGet } from './commands/get.js';
import { registerHistory } from './commands/history.js';
import { registerImport } from './commands/import.js';
import { registerList } from './commands/list.js';
import { registerRestore } from './commands/restore.js';
import { registerRestoreBackup } from './commands/restore-backup.js';
import { registerSet } from './commands/set.js';
import { registerStats } from './commands/stats.js';
import { registerUi } from './commands/ui.js';
import { registerVerify } from './commands/verify.js';
import { reportFailure } from './output/errors.js';

const HELP_FOOTER = `
Plugins: <id> is a plugin's UUID, or its name (e.g. com.acme.theme), which is turned into
  its id with pluginIdFromName, exactly as a host using the library does.

Storage: --storage <url>, else $PLUGIN_STATE_URL, else file:$PLUGIN_STATE_DIR, else
  file:./.plugin-state (the store \`npm start\` uses, under the working directory).
  URLs: file:<dir>  sqlite:<file>  postgres://user@host:5432/db?schema=s&table=t  memory:
  each may end in ?history=N (revisions kept per state).

Output: tables for people (colour only on a terminal, never with NO_COLOR set); --json prints
  one JSON document on stdout for scripts. Errors are one line on stderr; --debug adds the stack.

Exit codes: 0 ok, 1 failure or problems found (verify, a conflict, a damaged archive),
  2 usage error (unknown command or option, missing or malformed argument, bad storage URL).

Examples:
  $ plugin-state list
  $ plugin-state get com.acme.theme --json
  $ plugin-state verify --storage sqlite:./states.db
`;

function packageVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    return String(manifest.version);
  } catch {
    return 'unknown';
  }
}

function buildProgram(): Command {
  const program = new Command('plugin-state')
    .description('Inspect, edit, verify, back up and serve plugin-state storage.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--storage <url>', 'storage URL (also accepted after the command)')
    .option('--debug', 'print the stack trace of a failure')
    .helpOption('-h, --help', 'show help')
    .addHelpCommand(false)
    // Program options go before the command name, command options after it, so a command may
    // have options of its own named like the program's (set --version is the schema version).
    .enablePositionalOptions()
    .showHelpAfterError("Run 'plugin-state --help' (or '<command> --help') for usage.")
    .exitOverride() // throw instead of exiting, so main decides the exit code (2 for usage)
    .addHelpText('after', HELP_FOOTER.trimEnd());
  for (const register of [
    registerList,
    registerGet,
    registerSet,
    registerDelete,
    registerHistory,
    registerRestore,
    registerExport,
    registerImport,
    registerBackup,
    registerRestoreBackup,
    registerVerify,
    registerStats,
    registerUi,
  ]) {
    register(program);
  }
  return program;
}

async function main(argv: string[]): Promise<void> {
  // `plugin-state list | head` closes the pipe early: that is not a failure.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const debug = argv.includes('--debug');
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    process.exitCode = reportFailure(error, debug);
  }
}

await main(process.argv);
