/** One line of an archive, without its "\n". */
export interface Line {
  bytes: Buffer;
  /** 1-based. */
  number: number;
  /** False for a last line that the input ended in the middle of (no "\n" after it). */
  terminated: boolean;
}

/**
 * Splits a byte stream into lines without holding more than one line (plus one chunk) in memory.
 * A line longer than `maxLineBytes` calls `tooLong(lineNumber)`, which must throw, as soon as it
 * is seen, without buffering the rest of it. The bytes of a yielded line may share memory with the
 * input chunk: use them before asking for the next line.
 */
export async function* splitLines(
  input: AsyncIterable<Buffer | Uint8Array | string>,
  maxLineBytes: number,
  tooLong: (lineNumber: number) => never,
): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let number = 1;
  for await (const raw of input) {
    const chunk =
      typeof raw === 'string'
        ? Buffer.from(raw, 'utf8')
        : Buffer.isBuffer(raw)
          ? raw
          : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    let start = 0;
    for (let end = chunk.indexOf(10, start); end >= 0; end = chunk.indexOf(10, start)) {
      if (partBytes + end - start > maxLineBytes) tooLong(number);
      const piece = chunk.subarray(start, end);
      const bytes = parts.length === 0 ? piece : Buffer.concat([...parts, piece]);
      parts = [];
      partBytes = 0;
      yield { bytes, number, terminated: true };
      number++;
      start = end + 1;
    }
    if (start < chunk.length) {
      partBytes += chunk.length - start;
      if (partBytes > maxLineBytes) tooLong(number);
      parts.push(chunk.subarray(start));
    }
  }
  if (partBytes > 0) yield { bytes: Buffer.concat(parts), number, terminated: false };
}
