// A progress bar on stderr for long operations, drawn only on a terminal: a pipe or a log file
// gets nothing, so scripts never have to strip it.

export interface Progress {
  /** `done` of `total` items finished (total may change, e.g. from verify to write; unknown: a count). */
  update(done: number, total: number | undefined, label?: string): void;
  /** Clears the bar; call it before printing anything else. */
  finish(): void;
}

const WIDTH = 28;
const EVERY_MS = 80;

/**
 * A bar labelled `label`, shown once `total` reaches `minTotal` items (small jobs finish before a
 * bar would help). `stream` defaults to stderr; nothing is drawn unless it is a TTY.
 */
export function progressBar(
  label: string,
  options: { stream?: NodeJS.WriteStream; minTotal?: number } = {},
): Progress {
  const stream = options.stream ?? process.stderr;
  const minTotal = options.minTotal ?? 100;
  if (!stream.isTTY) return { update() {}, finish() {} };
  let drawn = false;
  let last = 0;
  return {
    update(done, total, current = label) {
      if ((total ?? done) < minTotal) return;
      const now = Date.now();
      if (drawn && now - last < EVERY_MS && (total === undefined || done < total)) return;
      last = now;
      if (total === undefined) {
        stream.write(`\r\u001b[2K${current} ${done}…`);
        drawn = true;
        return;
      }
      const ratio = total > 0 ? Math.min(done / total, 1) : 1;
      const filled = Math.round(ratio * WIDTH);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}`;
      const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
      stream.write(`\r\u001b[2K${current} ${bar} ${percent} ${done}/${total}`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\u001b[2K');
      drawn = false;
    },
  };
}
