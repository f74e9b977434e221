// scanForSecrets: every kind found at its JSON path (values, keys, nested arrays and objects), never
// the secret in the result, no false positives on ordinary state, and linear time on hostile input.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { makeStateData } from '../../../bench/data.js';
import { type JsonValue, scanForSecrets } from '../../../src/index.js';
import { filler, jwt, SAMPLES, secretCore, withLuhnDigit } from './samples.js';

describe('scanForSecrets: kinds and paths', () => {
  for (const [kind, secret] of SAMPLES) {
    it(`finds ${kind} (${secret.slice(0, 12).replaceAll('\n', ' ')}…) at its path, without the secret`, () => {
      const data: JsonValue = {
        settings: { theme: 'dark' },
        accounts: [
          { name: 'first', note: 'nothing here, 2024-01-15' },
          { name: 'second', extra: [1, [secret]] },
        ],
      };
      const findings = scanForSecrets(data);
      assert.deepEqual(findings, [{ path: 'data.accounts[1].extra[1][0]', kind }]);
      assert.ok(!JSON.stringify(findings).includes(secretCore(secret)));
      // The same secret as the whole state, and inside running text.
      assert.deepEqual(scanForSecrets(secret), [{ path: 'data', kind }]);
      assert.deepEqual(scanForSecrets({ 'log line': `seen: ${secret} (end)` }), [
        { path: 'data["log line"]', kind },
      ]);
    });
  }

  it('finds card numbers stored as JSON numbers, and only whole, exactly representable ones', () => {
    const visa = Number(withLuhnDigit('411111111111111'));
    const mastercard = Number(withLuhnDigit('555555555555444'));
    assert.deepEqual(scanForSecrets({ card: visa, list: [1, 2, mastercard] }), [
      { path: 'data.card', kind: 'credit-card' },
      { path: 'data.list[2]', kind: 'credit-card' },
    ]);
    // Past 2^53 a number is not the digits a user typed; a float is no card number either.
    assert.deepEqual(scanForSecrets([Number(`${visa}111`), visa + 0.5, -visa]), []);
  });

  it('reports several kinds in one string, each once, and stops at maxFindings', () => {
    const aws = `AKIA${filler(16, 'IOSFODNN7EXAMPL')}`;
    const token = `ghp_${filler(36)}`;
    assert.deepEqual(scanForSecrets({ env: `A=${aws}\nB=${token}\nC=${aws}` }), [
      { path: 'data.env', kind: 'aws-access-key-id' },
      { path: 'data.env', kind: 'github-token' },
    ]);
    const many = Array.from({ length: 500 }, () => token);
    assert.equal(scanForSecrets(many).length, 100);
    assert.equal(scanForSecrets(many, { maxFindings: 3 }).length, 3);
  });

  it('finds an AWS secret access key by its key name, or beside an access key id', () => {
    const keyId = `AKIA${filler(16, 'IOSFODNN7EXAMPL')}`;
    const secret = filler(40, 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY/+');
    assert.deepEqual(scanForSecrets({ aws: { accessKeyId: keyId, secretAccessKey: secret } }), [
      { path: 'data.aws.accessKeyId', kind: 'aws-access-key-id' },
      { path: 'data.aws.secretAccessKey', kind: 'aws-secret-access-key' },
    ]);
    assert.deepEqual(scanForSecrets({ creds: [{ a: keyId, b: secret }] }), [
      { path: 'data.creds[0].a', kind: 'aws-access-key-id' },
      { path: 'data.creds[0].b', kind: 'aws-secret-access-key' },
    ]);
    assert.deepEqual(scanForSecrets({ AWS_SECRET_ACCESS_KEY: secret }), [
      { path: 'data.AWS_SECRET_ACCESS_KEY', kind: 'aws-secret-access-key' },
    ]);
    // 40 characters without a name or a key id beside them, or a git SHA-1 beside one: not a secret.
    const sha = createHash('sha1').update('x').digest('hex');
    assert.deepEqual(scanForSecrets({ value: secret, other: { id: keyId.toLowerCase(), sha } }), []);
  });

  it('scans object keys, and never writes a secret key into any path', () => {
    const token = `ghp_${filler(36)}`;
    const aws = `AKIA${filler(16, 'IOSFODNN7EXAMPL')}`;
    const data: JsonValue = {
      byToken: { plain: 1, [token]: { owner: 'ada', nested: [aws] } },
      [`Bearer ${jwt()}`]: true,
    };
    const findings = scanForSecrets(data);
    assert.deepEqual(findings, [
      { path: 'data.byToken[<redacted key 1>]', kind: 'github-token', inKey: true },
      { path: 'data.byToken[<redacted key 1>].nested[0]', kind: 'aws-access-key-id' },
      { path: 'data[<redacted key 1>]', kind: 'jwt', inKey: true },
    ]);
    const text = JSON.stringify(findings);
    for (const secret of [token, aws, jwt()]) assert.ok(!text.includes(secretCore(secret)), secret);
  });

  it('quotes keys that are not identifiers, as ValidationError paths do', () => {
    const token = `glpat-${filler(20)}`;
    assert.deepEqual(scanForSecrets({ 'my key': { 'a.b': [{ $ok: token }] } }), [
      { path: 'data["my key"]["a.b"][0].$ok', kind: 'gitlab-token' },
    ]);
  });

  it('walks cycles and branching cycles once, skips values that are not JSON, and reaches any depth', () => {
    const token = `npm_${filler(36)}`;
    const cyclic: Record<string, unknown> = { token };
    cyclic.self = cyclic;
    cyclic.again = { back: cyclic, list: [cyclic, cyclic] };
    assert.deepEqual(scanForSecrets(cyclic as JsonValue), [{ path: 'data.token', kind: 'npm-token' }]);
    const notJson = { when: new Date(), map: new Map([[token, token]]), fn: () => token, ok: token };
    assert.deepEqual(scanForSecrets(notJson as unknown as JsonValue), [
      { path: 'data.ok', kind: 'npm-token' },
    ]);
    let deep: JsonValue = { token };
    for (let i = 0; i < 5000; i++) deep = [deep];
    const [finding] = scanForSecrets(deep);
    assert.equal(finding?.kind, 'npm-token');
    assert.equal(finding?.path, `data${'[0]'.repeat(5000)}.token`);
  });
});

describe('scanForSecrets: no false positives on ordinary state', () => {
  it('passes realistic states of 1 KB and 1 MB (bench/data.ts)', () => {
    for (const bytes of [1024, 1024 * 1024]) {
      for (const seed of [1, 2, 3])
        assert.deepEqual(scanForSecrets(makeStateData(bytes, seed)), [], `${bytes}/${seed}`);
    }
  });

  it('passes UUIDs, ISO dates, timestamps, git SHAs, hashes and random base64', () => {
    const values: JsonValue[] = [];
    for (let i = 0; i < 2000; i++) {
      values.push(randomUUID(), randomUUID().toUpperCase());
      values.push(createHash('sha1').update(String(i)).digest('hex'));
      values.push(createHash('sha256').update(String(i)).digest('hex'));
      values.push(randomBytes(30).toString('base64'), randomBytes(45).toString('base64url'));
      values.push(new Date(1_600_000_000_000 + i * 7_919_000_000).toISOString());
      values.push(
        1_600_000_000_000 + i * 7_919_123,
        1_600_000_000 + i,
        i * 1_000_003,
        Math.random(),
        -i * 1e13,
      );
      values.push(String(Math.random()), `${Math.random() * 1e6}`);
    }
    values.push(Number.MAX_SAFE_INTEGER, 1e21, 2 ** 53 + 2, '9007199254740991', 'v1.2.3-beta.4+build.5678');
    assert.deepEqual(scanForSecrets({ values }), []);
  });

  it('passes base64 of JSON that is no JWT, and public keys and certificates', () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const notJwt = [
      `${encode({ typ: 'JWT' })}.${encode({ sub: 'x' })}.${filler(20)}`, // a header without alg
      `${encode({ alg: 1 })}.${encode({ sub: 'x' })}.sig`, // alg not a string
      `${encode(['alg'])}.${encode({})}.sig`, // not an object
      `eyJ${filler(30)}.${filler(10)}.${filler(10)}`, // not base64 of JSON
      encode({ alg: 'HS256', payload: filler(40) }), // one segment only
      `data:application/json;base64,${Buffer.from(JSON.stringify({ alg: 'x', a: 1 })).toString('base64')}`,
    ];
    const publicParts = [
      `-----BEGIN PUBLIC KEY-----\n${filler(64)}\n-----END PUBLIC KEY-----`,
      `-----BEGIN CERTIFICATE-----\n${filler(64)}\n-----END CERTIFICATE-----`,
      `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${filler(40)} ada@example`,
    ];
    assert.deepEqual(scanForSecrets({ notJwt, publicParts }), []);
  });

  it('passes digit runs that are no card: failing Luhn, no issuer, odd grouping, phone numbers, decimals', () => {
    const visa = withLuhnDigit('411111111111111');
    const failsLuhn = `${visa.slice(0, 15)}${(Number(visa[15]) + 1) % 10}`;
    const notCards: JsonValue[] = [
      failsLuhn,
      Number(failsLuhn),
      `${failsLuhn.slice(0, 4)} ${failsLuhn.slice(4, 8)} ${failsLuhn.slice(8, 12)} ${failsLuhn.slice(12)}`,
      Number(withLuhnDigit('123456789012345')), // 16 digits passing Luhn, but no network starts with 1
      withLuhnDigit('900000000000000'),
      withLuhnDigit('41111111111'), // 12 digits: too short
      withLuhnDigit('41111111111111111111'), // 21 digits: too long
      `${visa.slice(0, 8)}-${visa.slice(8, 12)}-${visa.slice(12)}`, // 8-4-4, as in a UUID
      `${visa.slice(0, 4)} ${visa.slice(4, 8)}-${visa.slice(8, 12)} ${visa.slice(12)}`, // mixed separators
      `${visa.slice(0, 4)}  ${visa.slice(4)}`, // doubled separator
      `+${withLuhnDigit('491511234567')}`, // a phone number
      `0.${visa}`, // a decimal
      `${visa}.25`,
      `order-${visa}x`, // inside a word
      `id${visa}`,
      `${visa}0`, // part of a longer run
      '0000000000000000',
      '4444444444444444444',
      // Every wrong check digit of a Visa, Mastercard and Amex number, as strings and numbers.
      ...[withLuhnDigit('411111111111111'), withLuhnDigit('555555555555444'), withLuhnDigit('37828224631000')]
        .flatMap((card) =>
          Array.from({ length: 9 }, (_, i) => `${card.slice(0, -1)}${(Number(card.at(-1)) + 1 + i) % 10}`),
        )
        .flatMap((wrong) => [wrong, Number(wrong)]),
    ];
    assert.deepEqual(scanForSecrets({ notCards }), []);
  });

  it('passes prose and identifiers near token prefixes', () => {
    const prose = [
      'task-sk-something-quite-long-with-dashes',
      'sk-this-is-a-css-class-name-for-a-skeleton',
      `sk-${'a'.repeat(48)}`, // one case only: no key
      `sk-${filler(40, 'abcdefghij0123456789')}`, // no capital letter
      `sk-${filler(40, 'ABCDEFGHIJ0123456789')}`, // no small letter
      'npm_config_registry_url_is_set',
      'ghp_short',
      'xoxb-',
      'AKIA lowercase akiaiosfodnn7example',
      'the eyJ prefix alone.',
      'AIza too short',
      'glpat-short',
      '-----BEGIN PRIVATE-----',
    ];
    assert.deepEqual(scanForSecrets({ prose }), []);
  });
});

describe('scanForSecrets: hostile input stays linear', () => {
  const MB = 1024 * 1024;
  const hostile: Array<[string, string]> = [
    ['eyJ repeated', 'eyJ'.repeat(MB / 3)],
    ['eyJ then one long segment', `eyJ${'a'.repeat(MB)}`],
    ['eyJ segments with dots', 'eyJaaaaaaaa.'.repeat(MB / 12)],
    ['a JWT header and an endless payload', `eyJhbGciOiJIUzI1NiJ9.${'b'.repeat(MB)}`],
    ['JWT headers and empty payloads', 'eyJhbGciOiJIUzI1NiJ9..'.repeat(MB / 22)],
    ['digits', '4'.repeat(MB)],
    ['digits and spaces', '4 '.repeat(MB / 2)],
    ['digit groups', '4111 '.repeat(MB / 5)],
    ['digits and dashes', '41-'.repeat(MB / 3)],
    ['PEM openings', '-----BEGIN '.repeat(MB / 11)],
    ['PEM opening and letters', `-----BEGIN ${'A '.repeat(MB / 2)}`],
    ['upper-case letters', 'A'.repeat(MB)],
    ['AKIA repeated', 'AKIA'.repeat(MB / 4)],
    ['sk- repeated', 'sk-'.repeat(MB / 3)],
    ['sk- and letters', `sk-${'a'.repeat(MB)}`],
    ['xoxb- repeated', 'xoxb-'.repeat(MB / 5)],
    ['secret access key names', 'secret_access_key= '.repeat(MB / 19)],
    ['base64', randomBytes(MB * 0.75).toString('base64')],
  ];
  for (const [name, text] of hostile) {
    it(`scans 1 MB of ${name} quickly`, () => {
      const started = performance.now();
      scanForSecrets({ text, [text.slice(0, 200_000)]: 1 });
      const elapsed = performance.now() - started;
      // Linear patterns take milliseconds here; a backtracking one would take minutes.
      assert.ok(elapsed < 2000, `${elapsed.toFixed(0)} ms`);
    });
  }
});
