// What a failure prints and which exit code it leaves. Every failure is ONE line on stderr
// (a usage error adds one line pointing to --help); a stack trace only with --debug.
import { CommanderError } from 'commander';
import { ConflictError, PluginStateError } from '../../index.js';
import { coloursFor } from './colour.js';

/** The exit codes, as `--help` and the README document them. */
export const EXIT = {
  ok: 0,
  /** The command failed, or found problems (verify, a record skipped by export or backup). */
  failure: 1,
  /** The command line was wrong: unknown command or option, a missing or malformed argument. */
  usage: 2,
} as const;

/** A failure the CLI explains itself: `message` says what went wrong and what to do. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** A wrong command line: exit 2, and a pointer to the command's --help. */
export class UsageError extends CliError {
  constructor(
    message: string,
    readonly helpCommand = 'plugin-state',
    options?: { cause?: unknown },
  ) {
    super(message, EXIT.usage, options);
    this.name = 'UsageError';
  }
}

/** Ends the command with an exit code after it has printed everything it had to say. */
export class Exit extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'Exit';
  }
}

/** Commander's codes for a command line it could not parse (it has printed the message itself). */
const COMMANDER_USAGE = new Set([
  'commander.unknownOption',
  'commander.unknownCommand',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.excessArguments',
  'commander.invalidArgument',
  'commander.conflictingOption',
  'commander.help', // no command given: the help went to stderr
]);

/**
 * Prints what `error` means and returns the exit code. Commander has already printed its own
 * usage errors; everything else gets one line here.
 */
export function reportFailure(error: unknown, debug: boolean): number {
  if (error instanceof Exit) return error.exitCode;
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
    return COMMANDER_USAGE.has(error.code) ? EXIT.usage : EXIT.failure;
  }
  const colours = coloursFor(process.stderr);
  process.stderr.write(`${colours.red('error:')} ${oneLine(describe(error))}\n`);
  if (error instanceof UsageError) {
    process.stderr.write(`Run '${error.helpCommand} --help' for usage.\n`);
  }
  if (debug) process.stderr.write(`${stackOf(error)}\n`);
  return error instanceof CliError ? error.exitCode : EXIT.failure;
}

function describe(error: unknown): string {
  if (error instanceof CliError) return error.message;
  if (error instanceof ConflictError) return conflictLine(error);
  if (error instanceof PluginStateError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  return `${message} (an unexpected failure; run again with --debug to see where it happened)`;
}

/** The library's conflict message speaks of code (`expectedRevision`); the CLI's of its flags. */
function conflictLine(error: ConflictError): string {
  const id = error.pluginId ?? 'the state';
  const stored =
    error.storedRevision === 0 ? 'nothing is stored' : `revision ${error.storedRevision} is stored`;
  const retry =
    error.storedRevision === 0
      ? 'use --if-revision 0 to create it'
      : `read it again (plugin-state get ${id}) and retry with --if-revision ${error.storedRevision}`;
  return `conflict: ${id} was not changed: --if-revision ${error.expectedRevision} was given but ${stored}; ${retry}.`;
}

/** Messages may quote data or carry newlines; the error line stays one line. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function stackOf(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? String(current)) : String(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}
