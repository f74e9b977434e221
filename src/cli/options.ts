// Options and help text shared by every command, so each command file holds only its own logic.
import { type Command, InvalidArgumentError } from 'commander';

/** What every command accepts besides its own options. */
export interface CommonOptions {
  storage?: string;
  debug?: boolean;
  json?: boolean;
}

export const ID_HELP =
  'a plugin UUID, or a plugin name (e.g. com.acme.theme) turned into its id with pluginIdFromName';

/** `--storage` and `--debug` on a subcommand (they are also accepted before the command name). */
export function addCommonOptions(command: Command): Command {
  return command
    .showHelpAfterError(`Run 'plugin-state ${command.name()} --help' for usage.`)
    .option(
      '--storage <url>',
      'storage URL: file:<dir>, sqlite:<file>, postgres://…, memory: (default: $PLUGIN_STATE_URL or file:./.plugin-state)',
    )
    .option('--debug', 'print the stack trace of a failure');
}

/** `--json`: one machine-readable JSON document on stdout. */
export function addJsonOption(command: Command, shape: string): Command {
  return command.option('--json', `print one JSON document on stdout: ${shape}`);
}

/** An "Examples:" block and the exit codes after the command's help. */
export function addExamples(command: Command, ...examples: string[]): Command {
  return command.addHelpText(
    'after',
    `\nExamples:\n${examples.map((line) => `  $ ${line}`).join('\n')}\n\n${EXIT_CODES_HELP}`,
  );
}

export const EXIT_CODES_HELP = 'Exit codes: 0 ok, 1 failure or problems found, 2 usage error.';

/** A parser for arguments that take a whole number from `min` to `max`. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < min || number > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
      throw new InvalidArgumentError(`expected a whole number ${range}.`);
    }
    return Number(value);
  };
}

/** The options of the command and of the program before it, the command's winning. */
export function optionsOf<T extends CommonOptions>(command: Command): T {
  return command.optsWithGlobals<T>();
}
