// Where keys come from: environment variables, key files (owner-only), passphrases through scrypt,
// and a host's KeyProvider; and how a store checks the keys it is given.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import {
  IntegrityError,
  MemoryStateStorage,
  PermissionError,
  StorageError,
  ValidationError,
} from '../../../src/index.js';
import {
  ENCRYPTION_METADATA_ID,
  type EncryptionKey,
  encrypted,
  envelopeLimits,
  type KeyProvider,
  keyFromEnv,
  keyFromFile,
  passphraseKey,
} from '../../../src/layers/encryption/index.js';
import { scryptDerivationCount } from '../../../src/layers/encryption/passphrase.js';
import { rejectsWith } from '../../../src/testing/harness.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { newKey } from './helpers.js';

const state = (pluginId: string, data: unknown = { n: 1 }) => ({
  pluginId,
  data: data as never,
  lastModified: new Date(),
});
async function saltOf(inner: MemoryStateStorage): Promise<string | undefined> {
  const metadata = (await inner.loadState(ENCRYPTION_METADATA_ID))?.data as { salt?: string } | undefined;
  return metadata?.salt;
}
const inMemory = () => new MemoryStateStorage({ limits: envelopeLimits() });

function throwsConfig(what: string, build: () => unknown, pattern: RegExp, secret?: string): void {
  assert.throws(
    build,
    (error: unknown) => {
      assert.ok(error instanceof ValidationError, `${what}: a ValidationError, got ${String(error)}`);
      assert.match(error.message, pattern, what);
      if (secret) assert.ok(!error.message.includes(secret), `${what}: the key is not echoed`);
      return true;
    },
    what,
  );
}

describe('keyFromEnv', () => {
  const raw = randomBytes(32);
  for (const [form, text] of [
    ['hex', raw.toString('hex')],
    ['upper-case hex', raw.toString('hex').toUpperCase()],
    ['base64', raw.toString('base64')],
    ['base64url', raw.toString('base64url')],
    ['base64 with a trailing newline', `${raw.toString('base64')}\n`],
  ] as const) {
    it(`reads a key as ${form}`, () => {
      const key = keyFromEnv('KEY', { env: { KEY: text }, id: 'env' });
      assert.equal(key.id, 'env');
      assert.deepEqual(Buffer.from(key.key), raw);
    });
  }

  it('defaults the id to a fingerprint of the key: stable, different per key, not the key', () => {
    const text = raw.toString('base64');
    const a = keyFromEnv('KEY', { env: { KEY: text } });
    const b = keyFromEnv('KEY', { env: { KEY: text } });
    const other = keyFromEnv('KEY', { env: { KEY: randomBytes(32).toString('hex') } });
    assert.match(a.id, /^key-[0-9a-f]{16}$/);
    assert.equal(a.id, b.id);
    assert.notEqual(a.id, other.id);
    assert.ok(!raw.toString('hex').includes(a.id.slice(4)));
  });

  it('refuses a missing, empty, short or long value without echoing it', () => {
    throwsConfig('missing', () => keyFromEnv('NOPE', { env: {} }), /NOPE is not set/);
    throwsConfig('empty', () => keyFromEnv('KEY', { env: { KEY: ' ' } }), /not set/);
    const short = randomBytes(16).toString('hex');
    throwsConfig('16 bytes', () => keyFromEnv('KEY', { env: { KEY: short } }), /does not hold a key/, short);
    const long = randomBytes(48).toString('base64');
    throwsConfig('48 bytes', () => keyFromEnv('KEY', { env: { KEY: long } }), /openssl rand/, long);
    const pass = 'my password is long enough';
    throwsConfig('a passphrase', () => keyFromEnv('KEY', { env: { KEY: pass } }), /does not hold/, pass);
  });
});

describe('keyFromFile', () => {
  const raw = randomBytes(32);
  const write = (dir: string, name: string, content: string | Buffer, mode: number) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    chmodSync(path, mode);
    return path;
  };

  it('reads 0600 and 0400 files holding base64, hex or 32 raw bytes', async (t) => {
    const dir = tempDir(t);
    for (const [name, content, mode] of [
      ['b64', `${raw.toString('base64')}\n`, 0o600],
      ['hex', raw.toString('hex'), 0o400],
      ['raw', raw, 0o600],
    ] as const) {
      const key = await keyFromFile(write(dir, name, content, mode), { id: name });
      assert.deepEqual(Buffer.from(key.key), raw, name);
      assert.equal(key.id, name);
    }
  });

  it('refuses a key file others may read or write (0644, 0640, 0604, 0620), saying chmod 600', async (t) => {
    if (process.platform === 'win32') return t.skip('modes are not checked on Windows');
    const dir = tempDir(t);
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o666]) {
      const path = write(dir, `key-${mode.toString(8)}`, raw.toString('base64'), mode);
      const error = await rejectsWith(`mode ${mode.toString(8)}`, PermissionError, 'PERMISSION', () =>
        keyFromFile(path),
      );
      assert.ok(error.message.includes(path), error.message);
      assert.ok(error.message.includes(`0${mode.toString(8)}`), error.message);
      assert.match(error.message, /chmod 600/);
      assert.ok(!error.message.includes(raw.toString('base64')));
    }
  });

  it('refuses a missing file, a folder, a big file and text that is not a key', async (t) => {
    const dir = tempDir(t);
    await rejectsWith('missing', ValidationError, 'VALIDATION', () => keyFromFile(join(dir, 'none')));
    const folder = join(dir, 'folder');
    mkdirSync(folder, { mode: 0o700 });
    await rejectsWith('a folder', ValidationError, 'VALIDATION', () => keyFromFile(folder));
    const big = write(dir, 'big', 'x'.repeat(5000), 0o600);
    await rejectsWith('5000 bytes', ValidationError, 'VALIDATION', () => keyFromFile(big));
    const text = write(dir, 'text', 'hunter2 hunter2 hunter2\n', 0o600);
    const error = await rejectsWith('not a key', ValidationError, 'VALIDATION', () => keyFromFile(text));
    assert.ok(!error.message.includes('hunter2'));
  });

  it('a key from a file encrypts and decrypts like any other', async (t) => {
    const dir = tempDir(t);
    const path = write(dir, 'state.key', raw.toString('base64'), 0o600);
    const inner = inMemory();
    const id = randomUUID();
    await encrypted(inner, { key: await keyFromFile(path) }).saveState(state(id, 'from a file'));
    const again = encrypted(inner, { key: keyFromEnv('K', { env: { K: raw.toString('hex') } }) });
    assert.equal((await again.loadState(id))?.data, 'from a file', 'same bytes, same default id');
  });
});

describe('passphrase keys', () => {
  it('round trip; the salt is created once and kept beside the data', async () => {
    const inner = inMemory();
    const id = randomUUID();
    const first = encrypted(inner, { key: passphraseKey('a long secret passphrase', { id: 'pw' }) });
    await first.saveState(state(id, 'secret'));
    const salt = await saltOf(inner);
    assert.equal(Buffer.from(salt ?? '', 'base64').length, 16);
    const second = encrypted(inner, { key: passphraseKey('a long secret passphrase', { id: 'pw' }) });
    assert.equal((await second.loadState(id))?.data, 'secret');
    await second.saveState(state(randomUUID()));
    const after = await saltOf(inner);
    assert.equal(after, salt, 'the salt is never replaced');
  });

  it('a wrong passphrase: IntegrityError on load and on save, nothing returned or written', async () => {
    const inner = inMemory();
    const id = randomUUID();
    await encrypted(inner, { key: passphraseKey('the right passphrase', { id: 'pw' }) }).saveState(
      state(id, 'secret'),
    );
    const before = await inner.listStates();
    const wrong = encrypted(inner, { key: passphraseKey('the wrong passphrase', { id: 'pw' }) });
    const error = await rejectsWith('load', IntegrityError, 'INTEGRITY', () => wrong.loadState(id));
    assert.ok(error.message.includes(id));
    assert.match(error.message, /passphrase/);
    assert.ok(!error.message.includes('secret"'));
    await rejectsWith('save', IntegrityError, 'INTEGRITY', () => wrong.saveState(state(randomUUID())));
    assert.deepEqual(await inner.listStates(), before, 'nothing was written');
  });

  it('derives the key once per store, not per operation', async () => {
    const key = passphraseKey('derive me once', { id: 'pw' });
    const before = scryptDerivationCount();
    const store = encrypted(inMemory(), { key });
    const ids = Array.from({ length: 20 }, () => randomUUID());
    for (const id of ids) await store.saveState(state(id));
    for (const id of ids) await store.loadState(id);
    await store.listStates();
    assert.equal(scryptDerivationCount() - before, 1, 'one derivation for 41 operations');
  });

  it('two instances opening a new store at once agree on one salt', async () => {
    const inner = inMemory();
    const [a, b] = ['pw', 'pw'].map((id) =>
      encrypted(inner, { key: passphraseKey('shared secret', { id }) }),
    );
    const [x, y] = [randomUUID(), randomUUID()];
    await Promise.all([a!.saveState(state(x, 'from a')), b!.saveState(state(y, 'from b'))]);
    assert.equal((await a!.loadState(y))?.data, 'from b');
    assert.equal((await b!.loadState(x))?.data, 'from a');
  });

  it('a store with encrypted records but no salt is refused, never given a new salt', async () => {
    const inner = inMemory();
    await encrypted(inner, { key: passphraseKey('lost salt', { id: 'pw' }) }).saveState(state(randomUUID()));
    await inner.deleteState(ENCRYPTION_METADATA_ID);
    const error = await rejectsWith('open', IntegrityError, 'INTEGRITY', () =>
      encrypted(inner, { key: passphraseKey('lost salt', { id: 'pw' }) }).listStates(),
    );
    assert.match(error.message, /salt/);
    assert.equal(await inner.loadState(ENCRYPTION_METADATA_ID), undefined, 'no new salt was stored');
  });

  it('the passphrase is not shown by inspect or JSON.stringify; an empty one is refused', () => {
    const key = passphraseKey('do not print me', { id: 'pw' });
    assert.ok(!inspect(key).includes('do not print me'));
    assert.ok(!JSON.stringify(key).includes('do not print me'));
    assert.ok(!inspect(key, { showHidden: true }).includes('do not print me'));
    throwsConfig('empty', () => passphraseKey(''), /empty/);
  });
});

describe('KeyProvider', () => {
  function countingProvider(current: EncryptionKey, older: EncryptionKey[]) {
    const calls = { current: 0, byId: new Map<string, number>() };
    const provider: KeyProvider = {
      currentKey: async () => {
        calls.current++;
        return current;
      },
      keyById: async (id) => {
        calls.byId.set(id, (calls.byId.get(id) ?? 0) + 1);
        return [current, ...older].find((key) => key.id === id);
      },
    };
    return { provider, calls };
  }

  it('is asked for the current key once per store, and for an older key once', async () => {
    const [v1, v2] = [newKey('kms-v1'), newKey('kms-v2')];
    const inner = inMemory();
    const old = randomUUID();
    await encrypted(inner, { key: v1 }).saveState(state(old, 'under v1'));
    const { provider, calls } = countingProvider(v2, [v1]);
    const store = encrypted(inner, { keyProvider: provider });
    for (let round = 0; round < 10; round++) {
      assert.equal((await store.loadState(old))?.data, 'under v1');
      await store.saveState(state(randomUUID()));
    }
    assert.equal(calls.current, 1);
    assert.equal(calls.byId.get('kms-v1'), 1);
    assert.equal(await store.loadState(randomUUID()), undefined);
  });

  it('an unknown id is an IntegrityError; a provider that fails is asked again next time', async () => {
    const inner = inMemory();
    const id = randomUUID();
    await encrypted(inner, { key: newKey('gone') }).saveState(state(id));
    let failing = true;
    const store = encrypted(inner, {
      keyProvider: {
        currentKey: () => newKey('now'),
        keyById: (kid) => {
          if (failing) throw new Error(`KMS unreachable for ${kid}`);
          return undefined;
        },
      },
    });
    const outage = await rejectsWith('KMS down', StorageError, 'STORAGE', () => store.loadState(id));
    assert.match(outage.message, /KMS unreachable/);
    failing = false;
    await rejectsWith('unknown id', IntegrityError, 'INTEGRITY', () => store.loadState(id));
  });

  it('a provider returning another key than asked for, or a short key, is a configuration error', async () => {
    const inner = inMemory();
    const id = randomUUID();
    await encrypted(inner, { key: newKey('asked') }).saveState(state(id));
    const liar = encrypted(inner, {
      keyProvider: { currentKey: () => newKey('now'), keyById: () => newKey('other') },
    });
    await rejectsWith('wrong id', ValidationError, 'VALIDATION', () => liar.loadState(id));
    const short = encrypted(inMemory(), {
      keyProvider: { currentKey: () => ({ id: 'short', key: randomBytes(16) }), keyById: () => undefined },
    });
    await rejectsWith('16-byte key', ValidationError, 'VALIDATION', () => short.listStates());
  });
});

describe('encrypted(): key configuration', () => {
  it('refuses missing, doubled, duplicate and malformed keys when the layer is created', () => {
    const provider: KeyProvider = { currentKey: () => newKey('a'), keyById: () => undefined };
    throwsConfig('no key', () => encrypted(inMemory(), {}), /exactly one/);
    throwsConfig(
      'key and provider',
      () => encrypted(inMemory(), { key: newKey('a'), keyProvider: provider }),
      /exactly one/,
    );
    throwsConfig(
      'duplicate ids',
      () => encrypted(inMemory(), { key: newKey('a'), olderKeys: [newKey('b'), newKey('a')] }),
      /two keys have the id "a"/,
    );
    throwsConfig(
      'short key',
      () => encrypted(inMemory(), { key: { id: 'a', key: randomBytes(31) } }),
      /32 bytes/,
    );
    throwsConfig(
      'bad id',
      () => encrypted(inMemory(), { key: { id: 'a b', key: randomBytes(32) } }),
      /key id/,
    );
    throwsConfig('no id', () => encrypted(inMemory(), { key: { key: randomBytes(32) } as never }), /key id/);
    throwsConfig(
      'limit',
      () => encrypted(inMemory(), { key: newKey('a'), maxEncryptionsPerKey: 2 ** 33 }),
      /2\^32/,
    );
  });

  it('the layer keeps its own copy of the key bytes', async () => {
    const key = newKey('copied');
    const inner = inMemory();
    const store = encrypted(inner, { key });
    const id = randomUUID();
    await store.saveState(state(id, 'kept'));
    key.key.fill(0); // the host wipes its copy
    assert.equal((await store.loadState(id))?.data, 'kept');
  });
});
