// Storage hygiene on open, the way ssh treats ~/.ssh: a folder others can write to, or that another
// user owns, is refused (or reported with unsafeFolder: 'warn'); loose state files are reported and
// replaced by 0600 files on their next save.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  FileSystemStateStorage,
  type FileSystemStorageOptions,
  PermissionError,
  type StateReport,
  StorageError,
} from '../../../src/index.js';
import { tempDir } from '../../helpers/temp-dir.js';

const mode = (path: string) => statSync(path).mode & 0o7777;
const uid = process.geteuid?.() ?? -1;
const asRoot = uid === 0;
/** A user id that is not ours: `nobody`. */
const OTHER_UID = 65534;

/** A storage folder with the given mode, made without the library (chmod: umask does not apply). */
function folder(t: TestContext, folderMode: number, name = 'states'): string {
  const dir = join(tempDir(t), name);
  mkdirSync(dir);
  chmodSync(dir, folderMode);
  return dir;
}

function open(t: TestContext, dir: string, options: FileSystemStorageOptions = {}) {
  const reports: StateReport[] = [];
  const store = new FileSystemStateStorage(dir, { ...options, onReport: (report) => reports.push(report) });
  t.after(() => store.close());
  return { store, reports };
}

const save = (store: FileSystemStateStorage, pluginId = randomUUID(), data: unknown = { a: 1 }) =>
  store.saveState({ pluginId, data: data as never, lastModified: new Date() });

/** Asserts the PermissionError of an unsafe folder and returns its message. */
function assertUnsafe(error: unknown, dir: string, expected: RegExp[]): true {
  assert.ok(error instanceof PermissionError, String(error));
  assert.equal(error.code, 'PERMISSION');
  assert.equal(error.operation, 'open');
  assert.equal(error.location, dir);
  assert.ok(error.message.includes(dir), error.message);
  for (const pattern of expected) assert.match(error.message, pattern);
  return true;
}

describe('file storage hygiene: the storage folder', () => {
  const unsafeModes: Array<[number, string, RegExp]> = [
    [0o770, 'group-writable', /is writable by its group/],
    [0o775, 'group-writable', /is writable by its group/],
    [0o777, 'world-writable', /is writable by (its group and by )?every user/],
    [0o757, 'world-writable', /is writable by (its group and by )?every user/],
    [0o1777, 'world-writable even with the sticky bit', /is writable by (its group and by )?every user/],
  ];
  for (const [folderMode, what, reason] of unsafeModes) {
    it(`refuses a ${what} folder (${folderMode.toString(8)}), touching nothing, until it is fixed`, async (t) => {
      const dir = folder(t, folderMode);
      // A temp file of a dead writer: the sweep on open would remove it, so it shows that nothing ran.
      const leftover = `${randomUUID()}.json.tmp-999999-1-abcd`;
      writeFileSync(join(dir, leftover), 'x');
      const { store } = open(t, dir);
      const modeText = `mode 0${folderMode.toString(8)}`;
      const expected = [reason, new RegExp(modeText), new RegExp(`owner uid ${uid}`), /`chmod 700 \S+`/];
      await assert.rejects(save(store), (error) => assertUnsafe(error, dir, expected));
      await assert.rejects(store.loadState(randomUUID()), (error) => assertUnsafe(error, dir, expected));
      await assert.rejects(store.listStates(), (error) => assertUnsafe(error, dir, expected));
      await assert.rejects(save(store), (error) => {
        assert.ok(error instanceof PermissionError);
        assert.ok(error.message.includes(`\`chmod 700 ${dir}\``), error.message);
        assert.match(error.message, /unsafeFolder: "warn"/);
        return true;
      });
      assert.deepEqual(readdirSync(dir), [leftover], 'nothing was swept, created or written');
      assert.equal(mode(dir), folderMode, 'the library does not change a folder it did not create');
      chmodSync(dir, 0o700); // the fix the message gives: the same instance now opens
      assert.equal((await save(store)).revision, 1);
    });
  }

  it('accepts folders that only others may read or enter (0700, 0750, 0755, 0711)', async (t) => {
    for (const folderMode of [0o700, 0o750, 0o755, 0o711]) {
      const dir = folder(t, folderMode);
      const { store, reports } = open(t, dir);
      assert.equal((await save(store)).revision, 1);
      assert.deepEqual(reports, []);
    }
  });

  it("with unsafeFolder: 'warn' opens an unsafe folder and reports why through onReport", async (t) => {
    const dir = folder(t, 0o777);
    const { store, reports } = open(t, dir, { unsafeFolder: 'warn' });
    const id = randomUUID();
    await save(store, id);
    assert.equal((await store.loadState(id))?.revision, 1);
    assert.equal(reports.length, 1, 'one report, on open');
    const [report] = reports;
    assert.equal(report?.operation, 'open');
    assert.equal(report?.code, 'PERMISSION');
    assert.ok(report?.error instanceof PermissionError);
    assert.ok(report.message.includes(dir), report.message);
    assert.match(report.message, /mode 0777/);
    assert.match(report.message, /`chmod 700 /);
    assert.match(report.message, /opened anyway/);
    assert.equal(mode(join(dir, `${id}.json`)), 0o600, 'files stay 0600 in a warned-about folder');
  });

  it('refuses an unknown unsafeFolder value when the storage is made', () => {
    assert.throws(
      () => new FileSystemStateStorage('/tmp/x', { unsafeFolder: 'ignore' as never }),
      (error) =>
        error instanceof StorageError && /unsafeFolder must be 'refuse' or 'warn'/.test(error.message),
    );
  });

  it('creates a missing folder 0700 and opens it without a report', async (t) => {
    const dir = join(tempDir(t), 'new', 'states');
    const { store, reports } = open(t, dir);
    await save(store);
    assert.equal(mode(dir), 0o700);
    assert.deepEqual(reports, []);
  });

  it('refuses a folder owned by another user, saying who owns it and how to fix it', async (t) => {
    if (!asRoot) return t.skip('needs root to chown');
    const dir = folder(t, 0o700);
    chownSync(dir, OTHER_UID, OTHER_UID);
    const { store } = open(t, dir);
    await assert.rejects(save(store), (error) =>
      assertUnsafe(error, dir, [
        /mode 0700, owner uid 65534/,
        /owned by uid 65534, not by this process \(uid 0\)/,
        new RegExp(`\`chown 0 ${dir} && chmod 700 ${dir}\``),
      ]),
    );
    assert.deepEqual(readdirSync(dir), []);
    const warned = open(t, dir, { unsafeFolder: 'warn' });
    await save(warned.store);
    assert.equal(warned.reports.length, 1);
    assert.match(warned.reports[0]!.message, /owned by uid 65534/);
  });

  it('accepts a root-owned folder when running as root', async (t) => {
    if (!asRoot) return t.skip('needs root');
    const dir = folder(t, 0o700);
    assert.equal(statSync(dir).uid, 0);
    const { store, reports } = open(t, dir);
    await save(store);
    assert.deepEqual(reports, []);
  });
});

describe('file storage hygiene: the folders above it', () => {
  it('refuses a parent writable by others without the sticky bit, naming the parent', async (t) => {
    const root = tempDir(t);
    const parent = join(root, 'shared');
    mkdirSync(parent);
    chmodSync(parent, 0o777);
    const dir = join(parent, 'states');
    const { store } = open(t, dir); // the library creates states/ itself, 0700: the parent is the problem
    await assert.rejects(save(store), (error) =>
      assertUnsafe(error, dir, [
        new RegExp(`The folder ${parent} above it \\(mode 0777`),
        /is writable by (its group and by )?every user/,
        new RegExp(`\`chmod go-w ${parent}\``),
      ]),
    );
    chmodSync(parent, 0o755);
    await save(store);
  });

  it('accepts a world-writable parent with the sticky bit, as /tmp', async (t) => {
    const root = tempDir(t);
    const parent = join(root, 'tmp-like');
    mkdirSync(parent);
    chmodSync(parent, 0o1777);
    const { store, reports } = open(t, join(parent, 'states'));
    await save(store);
    assert.deepEqual(reports, []);
  });

  it('refuses a parent owned by another user (not root)', async (t) => {
    if (!asRoot) return t.skip('needs root to chown');
    const root = tempDir(t);
    const parent = join(root, 'theirs');
    mkdirSync(parent, { mode: 0o755 });
    chownSync(parent, OTHER_UID, OTHER_UID);
    const dir = join(parent, 'states');
    const { store } = open(t, dir);
    await assert.rejects(
      save(store),
      (error) =>
        assertUnsafe(error, dir, [
          /owned by uid 65534, neither by this process \(uid 0\) nor by root/,
          /Fix: keep the storage folder below folders that only uid 0 or root own and can write \(move it\), or run this process as uid 65534\./,
        ]) && !String(error).includes(`chown 0 ${parent}`),
    );
  });

  it('checks the real path behind a symlink, and the folders holding the symlink', async (t) => {
    const root = tempDir(t);
    // A safe-looking link whose target lies under a world-writable folder.
    const open777 = join(root, 'open');
    mkdirSync(join(open777, 'states'), { recursive: true, mode: 0o700 });
    chmodSync(open777, 0o777);
    const link = join(root, 'link-to-open');
    symlinkSync(join(open777, 'states'), link);
    const first = open(t, link);
    await assert.rejects(save(first.store), (error) =>
      assertUnsafe(error, link, [new RegExp(`The folder ${open777} above it`)]),
    );
    // A link to a safe folder, kept inside a world-writable folder: whoever writes there can repoint it.
    const safe = join(root, 'safe');
    mkdirSync(safe, { mode: 0o700 });
    const exposed = join(root, 'exposed');
    mkdirSync(exposed);
    chmodSync(exposed, 0o777);
    symlinkSync(safe, join(exposed, 'states'));
    const second = open(t, join(exposed, 'states'));
    await assert.rejects(save(second.store), (error) =>
      assertUnsafe(error, join(exposed, 'states'), [new RegExp(`The folder ${exposed} above it`)]),
    );
  });
});

describe('file storage hygiene: state files', () => {
  it('reports a state file chmod 0644 by hand on open, and makes it 0600 on the next save', async (t) => {
    const dir = folder(t, 0o755); // other users may enter the folder, so the file's own mode matters
    const id = randomUUID();
    const first = open(t, dir);
    await save(first.store, id, { n: 1 });
    await first.store.close();
    const path = join(dir, `${id}.json`);
    chmodSync(path, 0o644);

    const { store, reports } = open(t, dir);
    assert.equal((await store.loadState(id))?.revision, 1);
    assert.equal(mode(path), 0o644, 'opening and reading change nothing on disk');
    assert.equal(reports.length, 1);
    assert.equal(reports[0]?.operation, 'open');
    assert.equal(reports[0]?.code, 'PERMISSION');
    assert.ok(reports[0]?.message.includes(`${id}.json (mode 0644, owner uid ${uid})`), reports[0]?.message);
    assert.match(reports[0]!.message, /`chmod 600 /);

    await save(store, id, { n: 2 });
    assert.equal(mode(path), 0o600, 'the rename-over of a new 0600 file replaced the loose one');
    assert.deepEqual((await store.loadState(id))?.data, { n: 2 });
    const again = open(t, dir);
    await again.store.listStates();
    assert.deepEqual(again.reports, [], 'nothing left to report');
  });

  it('does not report loose files in a folder nobody else can enter, and still saves them 0600', async (t) => {
    const dir = tempDir(t); // mkdtemp: 0700
    const id = randomUUID();
    const first = open(t, dir);
    await save(first.store, id);
    await first.store.close();
    const path = join(dir, `${id}.json`);
    chmodSync(path, 0o666);
    const { store, reports } = open(t, dir);
    await store.open();
    assert.deepEqual(reports, [], 'unreachable by others through a 0700 folder');
    await save(store, id);
    assert.equal(mode(path), 0o600);
  });

  it('reports loose corrupt copies kept aside, and names at most five files in one report', async (t) => {
    const dir = folder(t, 0o711);
    const ids = Array.from({ length: 7 }, () => randomUUID());
    const writer = open(t, dir);
    for (const id of ids) await save(writer.store, id);
    await writer.store.close();
    for (const id of ids) chmodSync(join(dir, `${id}.json`), 0o640);
    writeFileSync(join(dir, `${ids[0]}.json.corrupt-2024-01-01T00-00-00.000Z`), '{', { mode: 0o666 });
    chmodSync(join(dir, `${ids[0]}.json.corrupt-2024-01-01T00-00-00.000Z`), 0o666);
    writeFileSync(join(dir, 'notes.txt'), 'not ours', { mode: 0o644 });
    const { store, reports } = open(t, dir);
    await store.listStates();
    const opened = reports.filter((report) => report.operation === 'open');
    assert.equal(opened.length, 1);
    assert.match(opened[0]!.message, /^open: 8 state file\(s\)/);
    assert.match(opened[0]!.message, / and 3 more\./);
    assert.doesNotMatch(opened[0]!.message, /notes\.txt/);
  });

  it('reports a state file owned by another user, and the next save makes it ours, 0600', async (t) => {
    if (!asRoot) return t.skip('needs root to chown');
    const dir = folder(t, 0o750);
    const id = randomUUID();
    const first = open(t, dir);
    await save(first.store, id);
    await first.store.close();
    const path = join(dir, `${id}.json`);
    chownSync(path, OTHER_UID, OTHER_UID);
    const { store, reports } = open(t, dir);
    await store.open();
    assert.equal(reports.length, 1);
    assert.ok(reports[0]?.message.includes(`(mode 0600, owner uid ${OTHER_UID})`), reports[0]?.message);
    await save(store, id);
    assert.deepEqual([statSync(path).uid, mode(path)], [0, 0o600]);
  });
});
