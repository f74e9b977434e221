// Secret-looking samples for the scanner's tests. They are assembled at run time from harmless
// pieces, so that no file in the repository holds a string that secret scanners (GitHub push
// protection, gitleaks) would flag, and none of them is a real credential.
import type { SecretKind } from '../../../src/index.js';

/** `length` characters cycling through `alphabet`, starting at `offset`. */
export function filler(length: number, alphabet = 'aB3dE5gH7jK9mN1pQ2sT4vW6yZ8', offset = 0): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[(i + offset) % alphabet.length];
  return out;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** `digits` followed by the one check digit that makes it pass Luhn. */
export function withLuhnDigit(digits: string): string {
  for (let check = 0; check <= 9; check++) {
    const candidate = `${digits}${check}`;
    let sum = 0;
    for (let i = candidate.length - 1, double = false; i >= 0; i--, double = !double) {
      let digit = Number(candidate[i]);
      if (double) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
      sum += digit;
    }
    if (sum % 10 === 0) return candidate;
  }
  throw new Error('unreachable');
}

/** A JWT-shaped token: base64url JSON header with `alg`, payload, signature. */
export function jwt(header: object = { alg: 'HS256', typ: 'JWT' }): string {
  return `${base64url(header)}.${base64url({ sub: '1234567890', name: 'Ada', iat: 1516239022 })}.${filler(43, 'Sf1KxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c')}`;
}

const pem = (label: string) =>
  `-----BEGIN ${label}-----\n${filler(64, 'MIIEowIBAAKCAQEA')}\n${filler(40)}\n-----END ${label}-----\n`;

const amexGrouped = (digits: string) => `${digits.slice(0, 4)} ${digits.slice(4, 10)} ${digits.slice(10)}`;
const fours = (digits: string, separator: string) => digits.match(/.{1,4}/g)!.join(separator);

const visa = withLuhnDigit('411111111111111');

/** Every kind, with samples in the forms it is written in; each sample holds exactly that kind. */
export const SAMPLES: ReadonlyArray<[SecretKind, string]> = [
  ['private-key', pem('RSA PRIVATE KEY')],
  ['private-key', pem('PRIVATE KEY')],
  ['private-key', pem('EC PRIVATE KEY')],
  ['private-key', pem('OPENSSH PRIVATE KEY')],
  ['private-key', pem('ENCRYPTED PRIVATE KEY')],
  ['private-key', pem('PGP PRIVATE KEY BLOCK')],
  ['private-key', `PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\n${filler(44)}`],
  ['aws-access-key-id', `AKIA${filler(16, 'IOSFODNN7EXAMPL')}`],
  ['aws-access-key-id', `ASIA${filler(16, 'Q3EGRKZ4WX7PLM2T')}`],
  [
    'aws-secret-access-key',
    `aws_secret_access_key = ${filler(40, 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY/+')}`,
  ],
  [
    'aws-secret-access-key',
    `AWS_SECRET_ACCESS_KEY="${filler(40, 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY')}"`,
  ],
  ['google-api-key', `AIza${filler(35, 'SyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe')}`],
  [
    'azure-storage-key',
    `DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=${filler(86, 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw+')}==;EndpointSuffix=core.windows.net`,
  ],
  ['jwt', jwt()],
  ['jwt', `Bearer ${jwt({ alg: 'RS256', kid: 'k1' })}`],
  ['jwt', `${jwt({ alg: 'none' }).split('.').slice(0, 2).join('.')}.`],
  ['github-token', `ghp_${filler(36)}`],
  ['github-token', `gho_${filler(36, 'Zx9Yw8Vu7')}`],
  ['github-token', `ghu_${filler(36, 'Ab1Cd2')}`],
  ['github-token', `ghs_${filler(36, 'Q9w8E7r6')}`],
  ['github-token', `ghr_${filler(36, 'pL0oK9iJ8')}`],
  ['github-token', `github_pat_${filler(22, '11ABCDEFG0')}_${filler(59)}`],
  ['gitlab-token', `glpat-${filler(20, 'xY1_zW2-vU3')}`],
  ['slack-token', `xoxb-${filler(12, '0123456789')}-${filler(13, '9876543210')}-${filler(24)}`],
  ['slack-token', `xoxp-${filler(12, '0123456789')}-${filler(24)}`],
  ['slack-token', `xoxa-2-${filler(30)}`],
  ['slack-token', `xoxr-${filler(30)}`],
  ['slack-token', `xoxs-${filler(30)}`],
  ['stripe-live-key', `sk_live_${filler(24, '4eC39HqLyjWDarjtT1zdp7dc')}`],
  ['stripe-live-key', `rk_live_${filler(24, '51H8xYzQw')}`],
  ['npm-token', `npm_${filler(36)}`],
  ['openai-api-key', `sk-proj-${filler(48, 'Ab3_Cd5-Ef7Gh9')}`],
  ['openai-api-key', `sk-${filler(20)}T3BlbkFJ${filler(20, 'Qw2Er4Ty6')}`],
  ['openai-api-key', `sk-${filler(48)}`],
  ['anthropic-api-key', `sk-ant-api03-${filler(93, 'aB3_dE5-gH7')}AA`],
  ['credit-card', visa],
  ['credit-card', fours(visa, ' ')],
  ['credit-card', fours(visa, '-')],
  ['credit-card', `card ${fours(withLuhnDigit('555555555555444'), ' ')}, expires 12/29`],
  ['credit-card', withLuhnDigit('222300312200322')],
  ['credit-card', amexGrouped(withLuhnDigit('37828224631000'))],
  ['credit-card', withLuhnDigit('601111111111111')],
  ['credit-card', withLuhnDigit('353011133330000')],
  ['credit-card', withLuhnDigit('3056930902590')],
  ['credit-card', withLuhnDigit('620000000000000')],
  ['credit-card', withLuhnDigit('422222222222')],
  ['credit-card', fours(withLuhnDigit('400000000000000000'), ' ')],
];

/** A part of `secret` long enough to identify it, that no report or error may contain. */
export function secretCore(secret: string): string {
  const line = secret
    .split('\n')
    .sort((a, b) => b.length - a.length)[0]!
    .trim();
  return line.length > 24 ? line.slice(8, 24) : line.replaceAll(/[ -]/g, '').slice(2, 12);
}
