// Aligned text tables for people; scripts use --json instead.
import { visibleLength } from './colour.js';

export interface Column<Row> {
  header: string;
  /** Numbers read best right-aligned. */
  align?: 'left' | 'right';
  value(row: Row): string;
  /** Colours the padded cell (padding is computed on the plain text, so columns stay aligned). */
  style?: (text: string, row: Row) => string;
}

/** Renders rows under a header, columns separated by two spaces, ending in a newline. */
export function renderTable<Row>(
  rows: readonly Row[],
  columns: readonly Column<Row>[],
  header: (text: string) => string = (text) => text,
): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, i) =>
    Math.max(visibleLength(column.header), ...cells.map((line) => visibleLength(line[i]!))),
  );
  const pad = (text: string, i: number): string => {
    const fill = ' '.repeat(widths[i]! - visibleLength(text));
    return columns[i]!.align === 'right' ? fill + text : text + fill;
  };
  const lines = [
    header(
      columns
        .map((column, i) => pad(column.header, i))
        .join('  ')
        .trimEnd(),
    ),
  ];
  rows.forEach((row, r) => {
    const line = columns.map((column, i) => {
      const padded = pad(cells[r]![i]!, i);
      return column.style ? column.style(padded, row) : padded;
    });
    lines.push(line.join('  ').trimEnd());
  });
  return `${lines.join('\n')}\n`;
}
