// What a secret looks like: one pattern per kind, each with a literal prefix or fixed boundaries and
// no nested quantifiers, so that matching stays linear in the length of the string, plus the checks
// a pattern alone cannot make (a JWT header that is JSON with "alg", a card number's issuer, length
// and Luhn digit). Patterns only need to recognise a secret, never to capture it whole: nothing
// here returns the matched text.

/** The kinds of secret {@link scanForSecrets} recognises. */
export type SecretKind =
  | 'private-key'
  | 'aws-access-key-id'
  | 'aws-secret-access-key'
  | 'google-api-key'
  | 'azure-storage-key'
  | 'jwt'
  | 'github-token'
  | 'gitlab-token'
  | 'slack-token'
  | 'stripe-live-key'
  | 'npm-token'
  | 'openai-api-key'
  | 'anthropic-api-key'
  | 'credit-card';

interface Detector {
  kind: SecretKind;
  /** Global, so that every candidate in a string can be checked. */
  pattern: RegExp;
  /** A second look at a candidate the pattern found; without it, any match counts. */
  confirm?: (match: RegExpExecArray) => boolean;
}

/** No secret recognised here is shorter (a 13-digit card number); shorter strings are not scanned. */
export const MIN_SECRET_LENGTH = 13;

const DETECTORS: readonly Detector[] = [
  // PKCS#1/#8, SEC1, OpenSSH, encrypted PKCS#8, PGP ("... PRIVATE KEY BLOCK"); PuTTY's own format.
  { kind: 'private-key', pattern: /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY|PuTTY-User-Key-File-[0-9]{1,2}: /g },
  {
    kind: 'aws-access-key-id',
    pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
  },
  {
    // As written in a credentials file or an environment listing: the name, then 40 base64 characters.
    kind: 'aws-secret-access-key',
    pattern:
      /[Ss][Ee][Cc][Rr][Ee][Tt]_?[Aa][Cc][Cc][Ee][Ss][Ss]_?[Kk][Ee][Yy]["']?[ \t]{0,4}[:=][ \t]{0,4}["']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g,
  },
  { kind: 'google-api-key', pattern: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}/g },
  { kind: 'azure-storage-key', pattern: /AccountKey=[A-Za-z0-9+/]{86}==/g },
  {
    kind: 'jwt',
    pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g,
    confirm: (match) => isJwtHeader(match[0].slice(0, match[0].indexOf('.'))),
  },
  {
    kind: 'github-token',
    pattern: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22})/g,
  },
  { kind: 'gitlab-token', pattern: /(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20}/g },
  { kind: 'slack-token', pattern: /(?<![A-Za-z0-9_-])xox[baprs]-[A-Za-z0-9-]{10}/g },
  { kind: 'stripe-live-key', pattern: /(?<![A-Za-z0-9_])[rs]k_live_[A-Za-z0-9]{20}/g },
  { kind: 'npm-token', pattern: /(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}/g },
  {
    // Project, service-account and admin keys; legacy keys (with the "T3BlbkFJ" marker, or 32 and
    // more letters and digits of both cases: random, unlike a slug such as "sk-abcdef…").
    kind: 'openai-api-key',
    pattern:
      /(?<![A-Za-z0-9_-])sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20}|[A-Za-z0-9]{20}T3BlbkFJ|[A-Za-z0-9]{32})/g,
    confirm: (match) => {
      const body = match[0].slice(3);
      if (!/^[A-Za-z0-9]{32}$/.test(body) || body.includes('T3BlbkFJ')) return true;
      return /[A-Z]/.test(body) && /[a-z]/.test(body) && /[0-9]/.test(body);
    },
  },
  { kind: 'anthropic-api-key', pattern: /(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20}/g },
  {
    // 13-19 digits, alone or in groups split by one kind of separator, not inside a longer run of
    // digits, a word, a decimal or a +phone number. The grouping, the issuer and Luhn are checked next.
    kind: 'credit-card',
    pattern: /(?<![0-9A-Za-z+.]|[0-9][ -])[0-9][0-9 -]{11,21}[0-9](?![0-9A-Za-z]|[ -][0-9]|\.[0-9])/g,
    confirm: (match) => isCardNumber(match[0]),
  },
];

const NONE: readonly SecretKind[] = Object.freeze([]);

/** One pass that tells whether a string may hold any secret; the detectors then say which. */
const ANY_SECRET = new RegExp(DETECTORS.map((detector) => detector.pattern.source).join('|'));

/** The kinds of secret in a string, each once; empty for almost every string, found in one regex pass. */
export function secretKindsIn(text: string): readonly SecretKind[] {
  if (text.length < MIN_SECRET_LENGTH || !ANY_SECRET.test(text)) return NONE;
  const kinds: SecretKind[] = [];
  for (const { kind, pattern, confirm } of DETECTORS) {
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      if (!confirm || confirm(match)) {
        kinds.push(kind);
        break;
      }
    }
  }
  return kinds;
}

/** A number that, written out, is a card number: only whole numbers are exact enough to be one. */
export function isCardNumberValue(value: number): boolean {
  return value >= 1e12 && Number.isSafeInteger(value) && isCardNumber(String(value));
}

/** A JWT's first segment: base64url of a JSON object with a string `alg` (RFC 7515, 7519). */
function isJwtHeader(segment: string): boolean {
  const text = Buffer.from(segment, 'base64url').toString('utf8');
  if (!text.includes('"alg"')) return false; // most candidates end here, without a costly parse error
  try {
    const header: unknown = JSON.parse(text);
    return (
      typeof header === 'object' &&
      header !== null &&
      Object.hasOwn(header, 'alg') &&
      typeof (header as { alg: unknown }).alg === 'string'
    );
  } catch {
    return false;
  }
}

/** How card numbers are grouped when written: 4-4-4-4(-1..3), Amex 4-6-5, Diners 4-6-4. */
function isCardGrouping(groups: number[]): boolean {
  if (groups.length === 1) return true;
  if (groups.length === 3 && groups[0] === 4 && groups[1] === 6) return groups[2] === 5 || groups[2] === 4;
  const last = groups[groups.length - 1]!;
  return groups.slice(0, -1).every((length) => length === 4) && last >= 1 && last <= 4;
}

/** Issuer prefixes (IIN ranges) and the lengths each network issues. */
function isIssuedLength(digits: string): boolean {
  const length = digits.length;
  const two = Number(digits.slice(0, 2));
  const three = Number(digits.slice(0, 3));
  const four = Number(digits.slice(0, 4));
  const six = Number(digits.slice(0, 6));
  if (digits[0] === '4') return length === 13 || length === 16 || length === 19; // Visa
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return length === 16; // Mastercard
  if (two === 34 || two === 37) return length === 15; // American Express
  if (four === 6011 || (three >= 644 && three <= 649) || two === 65) return length >= 16; // Discover
  if (four >= 3528 && four <= 3589) return length >= 16; // JCB
  if ((three >= 300 && three <= 305) || two === 36 || two === 38 || two === 39) return length >= 14; // Diners
  if (two === 62) return length >= 16; // UnionPay
  if (two === 50 || (two >= 56 && two <= 58) || two === 67 || (six >= 639000 && six <= 639999)) {
    return length >= 13; // Maestro
  }
  return false;
}

function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let digit = digits.charCodeAt(i) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** 13-19 digits, grouped as cards are written, from a network's range, with a valid check digit. */
function isCardNumber(text: string): boolean {
  const separator = text.includes(' ') ? ' ' : text.includes('-') ? '-' : '';
  const groups = separator === '' ? [text] : text.split(separator);
  if (groups.some((group) => !/^[0-9]+$/.test(group)) || !isCardGrouping(groups.map((g) => g.length))) {
    return false; // mixed separators, doubled separators, or an unusual grouping (dates, UUID parts)
  }
  const digits = groups.join('');
  if (digits.length < 13 || digits.length > 19) return false;
  if (/^(\d)\1+$/.test(digits)) return false; // 0000…, 4444…: placeholders, not cards
  return isIssuedLength(digits) && passesLuhn(digits);
}
