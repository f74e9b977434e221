// Colours for people, never for scripts: on only when the stream is a terminal and NO_COLOR is not set.

/** The styles the CLI uses; each returns its text unchanged when colour is off. */
export interface Colours {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

/**
 * Whether to colour what goes to `stream`: never when `NO_COLOR` is set (https://no-color.org) or
 * `FORCE_COLOR` is `0`, always when `FORCE_COLOR` is set to anything else, otherwise only on a
 * terminal that is not `TERM=dumb`.
 */
export function colourEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR === '0') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** The styles for one stream (stdout and stderr may differ: `list | less` keeps errors coloured). */
export function coloursFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Colours {
  const enabled = colourEnabled(stream, env);
  const style =
    (open: number, close: number) =>
    (text: string): string =>
      enabled && text !== '' ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return {
    enabled,
    bold: style(1, 22),
    dim: style(2, 22),
    red: style(31, 39),
    green: style(32, 39),
    yellow: style(33, 39),
    cyan: style(36, 39),
  };
}

// Built from a string: a literal escape character in a regex literal trips the linter.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** The width a string takes on screen, escape codes left out. */
export function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}
