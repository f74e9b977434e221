import type { JsonValue } from '../../core/types.js';
import { isCardNumberValue, MIN_SECRET_LENGTH, type SecretKind, secretKindsIn } from './detectors.js';

/** A secret found in a state: where it is and what it looks like, never the secret itself. */
export interface SecretFinding {
  /**
   * The JSON path of the value, such as `data.accounts[2].token`. An object key that is itself a
   * secret is never written out: it appears as `[<redacted key N>]`, N being its position among the
   * object's keys, both where it is found and in the paths of the values below it.
   */
  path: string;
  kind: SecretKind;
  /** True when the secret is an object key rather than a value. */
  inKey?: true;
}

/** Options of {@link scanForSecrets}. */
export interface ScanOptions {
  /**
   * Stop after this many findings (default 100): enough to act on, bounded for huge states. When
   * there are more, which ones are kept is not specified; the result is in document order.
   */
  maxFindings?: number;
}

type PathPart = string | number | { redacted: number };

interface Frame {
  value: object;
  parent: Frame | undefined;
  part: PathPart | undefined;
  /** Its index in its parent array, or its key's position in its parent object. */
  position: number;
  depth: number;
}

/** Up to this depth a cycle is found by walking the ancestors; deeper, by remembering every object. */
const ANCESTOR_CHECK_DEPTH = 1024;

/** Keys holding an AWS secret access key by name (`secretAccessKey`, `AWS_SECRET_ACCESS_KEY`, …). */
const AWS_SECRET_NAME = /secret_?access_?key|aws_?secret/i;
const AWS_SECRET_VALUE = /^[A-Za-z0-9/+]{40}$/;
const AWS_KEY_ID = /^(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}$/;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * Finds what looks like a secret that a plugin should not keep in plain state: PEM and PuTTY
 * private keys, AWS access key ids (and secret keys named as such or beside a key id), Google API
 * keys, Azure storage account keys, JWTs (three base64url segments whose header is JSON with `alg`),
 * GitHub, GitLab, Slack, Stripe live, npm, OpenAI and Anthropic tokens, and card numbers (13-19
 * digits, alone or grouped as printed, from a card network's range, passing Luhn) in strings and in
 * whole numbers. Object keys are scanned too.
 *
 * Returns where each secret is and its kind, never the secret, so that the result can be logged.
 * Cyclic references end the walk of that branch; values that are not JSON are skipped (storing
 * them fails anyway). Every pattern is linear in the length of the string (no nested quantifiers), and
 * strings shorter than 13 characters are not scanned at all.
 *
 * @example
 * scanForSecrets({ user: 'ada', github: { token: 'ghp_…' }, cards: ['4111 1111 1111 1111'] });
 * // → [{ path: 'data.github.token', kind: 'github-token' }, { path: 'data.cards[0]', kind: 'credit-card' }]
 */
export function scanForSecrets(data: JsonValue, options: ScanOptions = {}): SecretFinding[] {
  const max = options.maxFindings ?? 100;
  const findings: Array<{ finding: SecretFinding; order: number[] }> = [];
  const add = (
    frame: Frame | undefined,
    part: PathPart | undefined,
    position: number,
    kinds: readonly SecretKind[],
    inKey = false,
  ) => {
    for (const kind of kinds) {
      if (findings.length >= max) return;
      const path = pathOf(frame, part);
      findings.push({
        finding: inKey ? { path, kind, inKey: true } : { path, kind },
        order: orderOf(frame, position),
      });
    }
  };
  if (typeof data !== 'object' || data === null) {
    add(undefined, undefined, 0, primitiveKinds(data));
    return findings.map(({ finding }) => finding);
  }
  // A cycle is cut where it closes: an object is not entered again below itself. Past a depth no
  // real state reaches, every object met is remembered instead, so that walking the ancestors stays
  // cheap. (Shared, acyclic references are walked on each path, as the storage's own JSON check and
  // serialization walk them.)
  let deep: Set<object> | undefined;
  const descend = (child: object, parent: Frame, part: PathPart, position: number) => {
    if (parent.depth < ANCESTOR_CHECK_DEPTH) {
      for (let at: Frame | undefined = parent; at !== undefined; at = at.parent)
        if (at.value === child) return;
    } else {
      deep ??= new Set();
      if (deep.has(child)) return;
      deep.add(child);
    }
    stack.push({ value: child, parent, part, position, depth: parent.depth + 1 });
  };
  const stack: Frame[] = [{ value: data, parent: undefined, part: undefined, position: 0, depth: 0 }];
  while (stack.length > 0 && findings.length < max) {
    const frame = stack.pop()!;
    const node = frame.value;
    if (Array.isArray(node)) {
      for (let i = 0, length = node.length; i < length; i++) {
        const child: unknown = node[i];
        if (typeof child === 'object') {
          if (child !== null) descend(child, frame, i, i);
        } else if (isScannable(child)) {
          const kinds = primitiveKinds(child);
          if (kinds.length > 0) add(frame, i, i, kinds);
        }
      }
      continue;
    }
    const proto = Object.getPrototypeOf(node);
    if (proto !== Object.prototype && proto !== null) continue; // not JSON: the storage refuses it
    const record = node as Record<string, unknown>;
    let index = -1;
    for (const key in record) {
      index++;
      const keyKinds = key.length >= MIN_SECRET_LENGTH ? secretKindsIn(key) : NONE;
      const part: PathPart = keyKinds.length > 0 ? { redacted: index } : key;
      if (keyKinds.length > 0) add(frame, part, index, keyKinds, true);
      const child = record[key];
      if (typeof child === 'object') {
        if (child !== null) descend(child, frame, part, index);
      } else if (isScannable(child)) {
        let kinds = primitiveKinds(child);
        if (typeof child === 'string' && child.length === 40 && !kinds.includes('aws-secret-access-key')) {
          if (isAwsSecretBeside(record, key, child)) kinds = [...kinds, 'aws-secret-access-key'];
        }
        if (kinds.length > 0) add(frame, part, index, kinds);
      }
    }
  }
  // The walk takes the last child first; the findings are listed in document order.
  return findings.sort((a, b) => compareOrder(a.order, b.order)).map(({ finding }) => finding);
}

/** The positions (array index, key index) from the root down to a value. */
function orderOf(frame: Frame | undefined, position: number): number[] {
  const order = [position];
  for (let at = frame; at?.parent !== undefined; at = at.parent) order.push(at.position);
  return order.reverse();
}

function compareOrder(a: number[], b: number[]): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function isScannable(value: unknown): value is string | number {
  return typeof value === 'string' ? value.length >= MIN_SECRET_LENGTH : typeof value === 'number';
}

const CARD: readonly SecretKind[] = Object.freeze(['credit-card']);
const NONE: readonly SecretKind[] = Object.freeze([]);

function primitiveKinds(value: unknown): readonly SecretKind[] {
  if (typeof value === 'string') return secretKindsIn(value);
  if (typeof value === 'number' && isCardNumberValue(value)) return CARD;
  return NONE;
}

/**
 * 40 characters of base64 are an AWS secret access key when their key names one, or when an AWS
 * access key id sits beside them in the same object. Hex (a git SHA-1) and single-case text are not.
 */
function isAwsSecretBeside(record: Record<string, unknown>, key: string, value: string): boolean {
  if (!AWS_SECRET_VALUE.test(value) || !/[A-Z]/.test(value) || !/[a-z]/.test(value)) return false;
  if (AWS_SECRET_NAME.test(key)) return true;
  for (const sibling of Object.values(record)) {
    if (typeof sibling === 'string' && sibling.length === 20 && AWS_KEY_ID.test(sibling)) return true;
  }
  return false;
}

/** `data.items[3].token`; keys that are not identifiers are quoted; secret keys are redacted. */
function pathOf(frame: Frame | undefined, last: PathPart | undefined): string {
  const parts: PathPart[] = last === undefined ? [] : [last];
  for (let at = frame; at?.part !== undefined; at = at.parent) parts.push(at.part);
  let path = 'data';
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i]!;
    if (typeof part === 'number') path += `[${part}]`;
    else if (typeof part === 'object') path += `[<redacted key ${part.redacted}>]`;
    else if (IDENTIFIER.test(part)) path += `.${part}`;
    else path += `[${JSON.stringify(part)}]`;
  }
  return path;
}
