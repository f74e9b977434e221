// The CLI's output helpers in-process: colour rules, table alignment, the progress bar on a terminal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { colourEnabled, coloursFor, visibleLength } from '../../src/cli/output/colour.js';
import { progressBar } from '../../src/cli/output/progress.js';
import { renderTable } from '../../src/cli/output/table.js';

describe('CLI output helpers', () => {
  it('colour only on a terminal, never with NO_COLOR, forced by FORCE_COLOR', () => {
    assert.equal(colourEnabled({ isTTY: true }, {}), true);
    assert.equal(colourEnabled({ isTTY: false }, {}), false);
    assert.equal(colourEnabled({}, {}), false);
    assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count');
    assert.equal(colourEnabled({ isTTY: true }, { TERM: 'dumb' }), false);
    assert.equal(colourEnabled({ isTTY: false }, { FORCE_COLOR: '1' }), true);
    assert.equal(colourEnabled({ isTTY: true }, { FORCE_COLOR: '0' }), false);
    assert.equal(colourEnabled({ isTTY: false }, { FORCE_COLOR: '0' }), false);
    assert.equal(colourEnabled({ isTTY: true }, { FORCE_COLOR: '1', NO_COLOR: 'yes' }), false);
    assert.equal(coloursFor({ isTTY: false }, {}).red('x'), 'x');
    assert.equal(coloursFor({ isTTY: true }, {}).red('x'), '\u001b[31mx\u001b[39m');
  });

  it('tables align on the visible text, numbers to the right, colour or not', () => {
    const colours = coloursFor({ isTTY: true }, {});
    const text = renderTable(
      [
        { id: 'a', n: 1 },
        { id: 'bbbb', n: 1234 },
      ],
      [
        { header: 'ID', value: (row) => row.id, style: colours.cyan },
        { header: 'N', align: 'right', value: (row) => String(row.n) },
      ],
      colours.bold,
    );
    const plain = text
      .split('\n')
      .map((line) => line.replace(new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, 'g'), ''));
    assert.deepEqual(plain, ['ID       N', 'a        1', 'bbbb  1234', '']);
    assert.equal(visibleLength(colours.red('abc')), 3);
  });

  it('the progress bar draws on a terminal only, from minTotal items, and clears itself', () => {
    const written: string[] = [];
    const tty = { isTTY: true, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    const bar = progressBar('verify', { stream: tty, minTotal: 10 });
    bar.update(1, 5);
    assert.equal(written.length, 0, 'a small job gets no bar');
    bar.update(5, 10);
    assert.ok(written.at(-1)!.startsWith('\r\u001b[2Kverify '));
    assert.match(written.at(-1)!, /verify █+░+ {2}50% 5\/10$/);
    bar.update(10, 10);
    assert.match(written.at(-1)!, /100% 10\/10$/);
    bar.finish();
    assert.equal(written.at(-1), '\r\u001b[2K');

    const piped: string[] = [];
    const pipe = { isTTY: false, write: (text: string) => piped.push(text) } as unknown as NodeJS.WriteStream;
    const none = progressBar('export', { stream: pipe, minTotal: 0 });
    none.update(5, 10);
    none.finish();
    assert.deepEqual(piped, []);
  });
});
