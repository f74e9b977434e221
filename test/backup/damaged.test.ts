// A damaged archive is refused before anything is written: an IntegrityError (bytes changed,
// truncated, a wrong count) or a SerializationError (not shaped as the format says) naming the line,
// and the target store — here a file store, compared file by file — is byte-identical afterwards.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import {
  backup,
  IntegrityError,
  MemoryStateStorage,
  type PluginStateError,
  restore,
  SerializationError,
} from '../../src/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import {
  assertSameFolder,
  body,
  contents,
  header,
  nested,
  sealArchive,
  sealArchiveBytes,
  snapshot,
  storageAt,
} from './helpers.js';

interface Setup {
  dir: string;
  /** A good archive: 4 states, history included (7 records). */
  good: string;
  goodText: string;
  targetDir: string;
  target: Awaited<ReturnType<typeof storageAt>>;
}

async function setUp(t: TestContext): Promise<Setup> {
  const dir = tempDir(t);
  const source = new MemoryStateStorage();
  for (let i = 0; i < 4; i++) {
    const pluginId = randomUUID();
    for (let revision = 1; revision <= 1 + (i % 3); revision++) {
      await source.saveState({ pluginId, data: { i, revision, text: 'abc' }, lastModified: new Date() });
    }
  }
  const good = join(dir, 'good.ndjson');
  await backup(source, good, { history: true });
  const targetDir = join(dir, 'target');
  const target = await storageAt(t, `file:${targetDir}`);
  for (let i = 0; i < 3; i++) {
    const pluginId = randomUUID();
    await target.saveState({ pluginId, data: { mine: i }, lastModified: new Date() });
    await target.saveState({ pluginId, data: { mine: i, again: true }, lastModified: new Date() });
  }
  return { dir, good, goodText: readFileSync(good, 'utf8'), targetDir, target };
}

/** The text of line `n` (1-based) and the byte offset where it starts. */
function lineAt(text: string, n: number): { line: string; offset: number } {
  const lines = text.split('\n');
  const offset = Buffer.byteLength(lines.slice(0, n - 1).join('\n')) + (n > 1 ? 1 : 0);
  return { line: lines[n - 1]!, offset };
}

function lineCount(text: string): number {
  return text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
}

interface Damage {
  name: string;
  damage: (good: string) => string | Buffer;
  error: typeof IntegrityError | typeof SerializationError;
  /** The line the error must name, given the good and the damaged archive. */
  line: (good: string, bad: string) => number;
  message: RegExp;
  limits?: { maxBytes?: number; maxDepth?: number };
}

const id = () => randomUUID();

const damages: Damage[] = [
  {
    name: 'a flipped byte in a record’s data',
    damage: (good) => {
      const bytes = Buffer.from(good);
      const { line, offset } = lineAt(good, 3);
      const at = offset + line.indexOf('"text":"abc"') + 9;
      bytes[at] = bytes[at]! ^ 0x01;
      return bytes;
    },
    error: IntegrityError,
    line: () => 3,
    message: /checksum does not match/,
  },
  {
    name: 'a flipped byte in a record’s checksum',
    damage: (good) => {
      const { line } = lineAt(good, 2);
      const at = line.length - 5;
      const flipped = `${line.slice(0, at)}${line[at] === '0' ? '1' : '0'}${line.slice(at + 1)}`;
      return good.replace(line, flipped);
    },
    error: IntegrityError,
    line: () => 2,
    message: /checksum does not match/,
  },
  {
    name: 'a changed header (only the trailer’s checksum covers it)',
    damage: (good) => good.replace('"source":"MemoryStateStorage"', '"source":"MemoryStateStorags"'),
    error: IntegrityError,
    line: (good) => lineCount(good),
    message: /the archive's checksum does not match/,
  },
  {
    name: 'a truncated file (cut in the middle of a record)',
    damage: (good) => Buffer.from(good).subarray(0, lineAt(good, 4).offset + 40),
    error: IntegrityError,
    line: () => 4,
    message: /ends in the middle of line 4 without its trailer line: it is truncated/,
  },
  {
    name: 'a missing trailer (cut at a line boundary)',
    damage: (good) => good.slice(0, good.lastIndexOf('{"trailer"')),
    error: IntegrityError,
    line: (good) => lineCount(good) - 1,
    message: /without its trailer line: it is truncated/,
  },
  {
    name: 'a trailer cut in the middle',
    damage: (good) => good.slice(0, good.lastIndexOf('"sha256"')),
    error: IntegrityError,
    line: (good) => lineCount(good),
    message: /truncated/,
  },
  {
    name: 'a wrong record count in the trailer',
    damage: (good) => good.replace(/"records":(\d+)/, (_, n: string) => `"records":${Number(n) + 1}`),
    error: IntegrityError,
    line: (good) => lineCount(good),
    message: /the trailer counts 8 records, but the archive holds 7/,
  },
  {
    name: 'a wrong state count in the trailer',
    damage: (good) => good.replace(/"states":(\d+)/, '"states":3'),
    error: IntegrityError,
    line: (good) => lineCount(good),
    message: /the trailer counts 3 states, but the archive holds 4/,
  },
  {
    name: 'a whole state removed',
    damage: (good) => {
      const lines = good.split('\n');
      const last = lines.at(-3)!; // the last state's current record: remove all of its lines
      const pluginId = (JSON.parse(last) as { pluginId: string }).pluginId;
      return lines.filter((line) => !line.includes(pluginId)).join('\n');
    },
    error: IntegrityError,
    line: (_good, bad) => lineCount(bad),
    message: /the trailer counts/,
  },
  {
    name: 'two states swapped (each record still right)',
    damage: () => {
      const lines = sealArchive(header(), [body(id(), 1), body(id(), 2), body(id(), 3)]).split('\n');
      [lines[1], lines[2]] = [lines[2]!, lines[1]!];
      return lines.join('\n');
    },
    error: IntegrityError,
    line: () => 5,
    message: /the archive's checksum does not match/,
  },
  {
    name: 'a record with a bad id',
    damage: () => sealArchive(header(), [body(id(), 1), body('../../etc/passwd', 2), body(id(), 3)]),
    error: SerializationError,
    line: () => 3,
    message: /"pluginId" "..\/..\/etc\/passwd" is not a UUID/,
  },
  {
    name: 'a record over the size limit',
    damage: () => sealArchive(header(), [body(id(), 'x'.repeat(1100))]),
    error: SerializationError,
    line: () => 2,
    message: /its data is 1102 bytes serialized, over the limit of 1024/,
    limits: { maxBytes: 1024 },
  },
  {
    name: 'a line far over the size limit (refused before it is read whole)',
    damage: () => sealArchive(header(), [body(id(), 1), body(id(), 'x'.repeat(100_000))]),
    error: SerializationError,
    line: () => 3,
    message: /longer than 1536 bytes/,
    limits: { maxBytes: 1024 },
  },
  {
    name: 'data nested deeper than the limit',
    damage: () => sealArchive(header(), [body(id(), nested(129))]),
    error: SerializationError,
    line: () => 2,
    message: /nests deeper than the limit of 128 levels/,
  },
  {
    name: 'a wrong format version',
    damage: () => sealArchive({ ...header(), version: 2 }, [body(id(), 1)]),
    error: SerializationError,
    line: () => 1,
    message:
      /format version 2; this library reads version 1 \(the archive was written by a newer plugin-state/,
  },
  {
    name: 'a file that is not an archive',
    damage: () => '{"hello":"world"}\n',
    error: SerializationError,
    line: () => 1,
    message: /not a plugin-state-backup archive/,
  },
  {
    name: 'an empty file',
    damage: () => '',
    error: SerializationError,
    line: () => 1,
    message: /the archive is empty/,
  },
  {
    name: 'a record that is not JSON (with a right checksum)',
    damage: () => sealArchive(header(), [`{"pluginId":"${id()}","revision":1,}`]),
    error: SerializationError,
    line: () => 2,
    message: /is not valid/,
  },
  {
    name: 'a "__proto__" payload (with a right checksum)',
    damage: () =>
      sealArchive(header(), [body(id(), 1).replace('"data":1', '"data":{"__proto__":{"polluted":true}}')]),
    error: SerializationError,
    line: () => 2,
    message: /__proto__/,
  },
  {
    name: 'an unknown key in a record',
    damage: () => sealArchive(header(), [body(id(), 1).replace('"current"', '"extra":1,"current"')]),
    error: SerializationError,
    line: () => 2,
    message: /unknown "extra"/,
  },
  {
    name: 'a record without its version',
    damage: () => sealArchive(header(), [body(id(), 1).replace('"version":1,', '')]),
    error: SerializationError,
    line: () => 2,
    message: /missing "version"/,
  },
  {
    name: 'revision 0',
    damage: () => sealArchive(header(), [body(id(), 1, { revision: 0 })]),
    error: SerializationError,
    line: () => 2,
    message: /"revision" must be a whole number >= 1, got 0/,
  },
  {
    name: 'a lastModified that is not a date',
    damage: () =>
      sealArchive(header(), [body(id(), 1).replace(/"lastModified":"[^"]+"/, '"lastModified":"yesterday"')]),
    error: SerializationError,
    line: () => 2,
    message: /"lastModified" is not an ISO 8601 timestamp/,
  },
  {
    name: 'the same state twice',
    damage: () => {
      const same = id();
      return sealArchive(header(), [body(same, 1), body(id(), 2), body(same.toUpperCase(), 3)]);
    },
    error: SerializationError,
    line: () => 4,
    message: /already had its records earlier/,
  },
  {
    name: 'a history record in an archive without history',
    damage: () => {
      const same = id();
      return sealArchive(header(false), [body(same, 1, { current: false }), body(same, 2, { revision: 2 })]);
    },
    error: SerializationError,
    line: () => 2,
    message: /a history record \(current: false\) in an archive whose header says "history": false/,
  },
  {
    name: 'history records without their current record',
    damage: () => sealArchive(header(true), [body(id(), 1, { current: false }), body(id(), 2)]),
    error: SerializationError,
    line: () => 3,
    message: /end without its current record/,
  },
  {
    name: 'history out of order',
    damage: () => {
      const same = id();
      return sealArchive(header(true), [
        body(same, 1, { revision: 5, current: false }),
        body(same, 2, { revision: 3 }),
      ]);
    },
    error: SerializationError,
    line: () => 3,
    message: /revision 3 does not follow revision 5/,
  },
  {
    name: 'more after the trailer',
    damage: (good) => `${good}{"pluginId":"x"}\n`,
    error: SerializationError,
    line: (good) => lineCount(good) + 1,
    message: /more after the trailer line/,
  },
  {
    name: 'invalid UTF-8 (with a right checksum)',
    damage: () => {
      const [before, after] = body(id(), 'A_B').split('_');
      return sealArchiveBytes(header(), [
        Buffer.concat([Buffer.from(before!), Buffer.from([0xc3, 0x28]), Buffer.from(after!)]),
      ]);
    },
    error: SerializationError,
    line: () => 2,
    message: /not valid UTF-8/,
  },
  {
    name: 'CRLF line endings',
    damage: (good) => good.replaceAll('\n', '\r\n'),
    error: SerializationError,
    line: () => 2,
    message: /must end with ,"sha256"/,
  },
];

describe('restore refuses a damaged archive and leaves the target untouched', () => {
  it('restores the undamaged archive (the cases below differ from it only by their damage)', async (t) => {
    const { good, target } = await setUp(t);
    const result = await restore(target, good, { mode: 'replace' });
    assert.deepEqual([result.restored, result.revisions, result.deleted], [4, 3, 3]);
  });

  for (const damage of damages) {
    for (const input of ['path', 'stream'] as const) {
      it(`${damage.name} (${input})`, async (t) => {
        const { dir, goodText, targetDir, target } = await setUp(t);
        const bad = join(dir, 'bad.ndjson');
        const bytes = damage.damage(goodText);
        writeFileSync(bad, bytes);
        const before = snapshot(targetDir);
        const statesBefore = await contents(target);

        // A stream in 7-byte chunks, so that lines are split across chunks.
        const buffer = readFileSync(bad);
        const archive =
          input === 'path'
            ? bad
            : Readable.from(
                Array.from({ length: Math.ceil(buffer.length / 7) }, (_, i) =>
                  buffer.subarray(i * 7, i * 7 + 7),
                ),
              );
        const error = (await restore(target, archive, {
          mode: 'replace',
          ...(damage.limits ? { limits: damage.limits } : {}),
        }).then(
          () => assert.fail('restore resolved'),
          (reason: unknown) => reason,
        )) as PluginStateError;

        assert.ok(error instanceof damage.error, `expected a ${damage.error.name}, got ${String(error)}`);
        assert.match(error.message, damage.message);
        assert.match(error.message, /Nothing was written to the storage\./);
        const name = input === 'path' ? bad : '(stream)';
        assert.equal(
          error.location,
          `${name}:${damage.line(goodText, buffer.toString('utf8'))}`,
          error.message,
        );
        assert.equal(error.operation, 'restore');
        assertSameFolder(before, snapshot(targetDir));
        assert.deepEqual(await contents(target), statesBefore);
      });
    }
  }
});
