// Small formatters shared by the commands: sizes, dates, JSON output.

/** Bytes of a value serialized as JSON (UTF-8): the size the library counts against its limits. */
export function jsonSize(data: unknown): number {
  return Buffer.byteLength(JSON.stringify(data) ?? '', 'utf8');
}

/** The deepest nesting of arrays and objects in a JSON value (a scalar is 0, `{}` is 1). */
export function jsonDepth(data: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[data, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > deepest) deepest = depth;
    for (const child of Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return deepest;
}

/** `1.5 KiB`, `12 B`, `3.2 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** `2026-11-27 02:28:28Z`: UTC to the second, so a table reads the same on every machine. */
export function formatDate(date: Date | undefined): string {
  if (!date || Number.isNaN(date.getTime())) return '-';
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** `12,345`. */
export function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}

/** Writes one JSON document to stdout: what every `--json` prints. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `1 state`, `2 states`. */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${formatCount(count)} ${count === 1 ? noun : nouns}`;
}
