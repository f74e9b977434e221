import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { DEFAULT_LIMITS, resolveLimits, type StateLimits } from '../../core/limits.js';
import type { PluginId } from '../../core/types.js';
import { isKeyId } from './keys.js';

/** The envelope's marker key; its value is the format version. */
export const ENVELOPE_MARKER = 'plugin-state:encrypted';
/** Version of the envelope format and of the authenticated data's layout. */
export const ENVELOPE_FORMAT = 1;

export const ALGORITHM = 'aes-256-gcm';
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

/**
 * What the encryption layer stores as a state's `data`. Everything but `ct` is public; `iv`, `tag`
 * and `ct` are standard base64.
 *
 * ```json
 * { "plugin-state:encrypted": 1, "kid": "2025-06", "iv": "…16…", "tag": "…24…", "ct": "…" }
 * ```
 */
export interface EncryptedEnvelope {
  [ENVELOPE_MARKER]: typeof ENVELOPE_FORMAT;
  kid: string;
  iv: string;
  tag: string;
  ct: string;
  [key: string]: string | number;
}

/**
 * The limits a storage under the encryption layer needs so that every state within `limits`
 * (plaintext, default 10 MiB) fits once encrypted: base64 makes 3 bytes into 4 characters, and the
 * envelope's other fields take less than 1 KiB.
 *
 * @example
 * const inner = new FileSystemStateStorage(dir, { limits: envelopeLimits() });
 */
export function envelopeLimits(limits?: Partial<StateLimits>): StateLimits {
  const plaintext = resolveLimits(limits);
  return { maxDepth: DEFAULT_LIMITS.maxDepth, maxBytes: 4 * Math.ceil(plaintext.maxBytes / 3) + 1024 };
}

/** An envelope that parsed: its parts decoded, not yet authenticated. */
export interface EnvelopeParts {
  kid: string;
  iv: Buffer;
  tag: Buffer;
  ct: Buffer;
}

/**
 * The additional authenticated data: format version, plugin id, key id and the state's schema
 * version. A ciphertext moved to another plugin's record, relabelled with another key id, or given
 * another schema version fails authentication. Parts are separated by NUL, which none may contain.
 */
export function additionalData(pluginId: PluginId, kid: string, version: number): Buffer {
  return Buffer.from(`${ENVELOPE_MARKER}\0${ENVELOPE_FORMAT}\0${pluginId}\0${kid}\0${version}`, 'latin1');
}

// IVs are drawn from the CSPRNG in batches: one system call per 1,024 IVs rather than one per write.
// Each IV is used once and the pool is never reused after it is consumed, so this changes nothing
// about their randomness.
const IV_POOL_COUNT = 1024;
const ivPool = Buffer.alloc(IV_BYTES * IV_POOL_COUNT);
let ivOffset = ivPool.length;

/** A fresh random 96-bit IV. */
export function freshIv(): Buffer {
  if (ivOffset === ivPool.length) {
    randomFillSync(ivPool);
    ivOffset = 0;
  }
  // A copy, so that a caller holding it is unaffected when the pool is refilled.
  const iv = Buffer.from(ivPool.subarray(ivOffset, ivOffset + IV_BYTES));
  ivPool.fill(0, ivOffset, ivOffset + IV_BYTES);
  ivOffset += IV_BYTES;
  return iv;
}

/** Encrypts a state's serialized data under `key` with a fresh IV. */
export function sealEnvelope(key: Buffer, kid: string, aad: Buffer, plaintext: string): EncryptedEnvelope {
  const iv = freshIv();
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const head = cipher.update(plaintext, 'utf8');
  const tail = cipher.final(); // empty for GCM, kept for form's sake
  const ct = tail.length === 0 ? head : Buffer.concat([head, tail]);
  return {
    [ENVELOPE_MARKER]: ENVELOPE_FORMAT,
    kid,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ct: ct.toString('base64'),
  };
}

/** Authenticates and decrypts; throws (a plain Error from node:crypto) when authentication fails. */
export function openEnvelope(key: Buffer, aad: Buffer, parts: EnvelopeParts): Buffer {
  const decipher = createDecipheriv(ALGORITHM, key, parts.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(parts.tag);
  const head = decipher.update(parts.ct);
  const tail = decipher.final();
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}

/** True when `data` carries the envelope marker, valid or not (so it is not plaintext). */
export function hasEnvelopeMarker(data: unknown): boolean {
  return typeof data === 'object' && data !== null && Object.hasOwn(data, ENVELOPE_MARKER);
}

const ENVELOPE_KEYS = new Set([ENVELOPE_MARKER, 'kid', 'iv', 'tag', 'ct']);

/**
 * Reads an envelope out of stored `data` without trusting it: exactly the five fields, the known
 * format, a valid key id, canonical base64 of a 12-byte IV, a 16-byte tag and a non-empty
 * ciphertext. Returns the reason as a string when it is not one.
 */
export function readEnvelope(data: unknown): EnvelopeParts | string {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return `its data is ${data === null ? 'null' : Array.isArray(data) ? 'an array' : `a ${typeof data}`}, not an encrypted envelope`;
  }
  const record = data as Record<string, unknown>;
  const format = record[ENVELOPE_MARKER];
  if (format === undefined) return 'its data is not an encrypted envelope (plain JSON?)';
  if (format !== ENVELOPE_FORMAT) {
    return `its envelope has format ${JSON.stringify(format)}, which this version does not know (it knows ${ENVELOPE_FORMAT})`;
  }
  const keys = Object.keys(record);
  if (keys.length !== ENVELOPE_KEYS.size || !keys.every((key) => ENVELOPE_KEYS.has(key))) {
    return `its envelope has the fields ${keys.map((key) => JSON.stringify(key)).join(', ')} instead of exactly ${[...ENVELOPE_KEYS].join(', ')}`;
  }
  const { kid } = record;
  if (!isKeyId(kid)) return 'its envelope has no valid key id';
  const iv = decodeBase64(record.iv, IV_BYTES);
  if (!iv) return `its IV is not ${IV_BYTES} bytes of base64`;
  const tag = decodeBase64(record.tag, TAG_BYTES);
  if (!tag) return `its authentication tag is not ${TAG_BYTES} bytes of base64 (cut short?)`;
  const ct = decodeBase64(record.ct);
  if (!ct) return 'its ciphertext is not base64';
  return { kid, iv, tag, ct };
}

/**
 * Decodes standard base64, refusing what Node's lenient decoder would accept silently: other
 * characters (skipped by Node), the URL-safe alphabet, missing padding, and non-zero padding bits.
 * Every stored text then has exactly one meaning.
 */
function decodeBase64(text: unknown, exactBytes?: number): Buffer | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length % 4 !== 0) return undefined;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const expected = (text.length / 4) * 3 - padding;
  if (exactBytes !== undefined && expected !== exactBytes) return undefined;
  if (text.includes('-') || text.includes('_')) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // A skipped character or a '=' inside the text makes the decoded bytes fewer than expected.
  if (bytes.length !== expected || expected === 0) return undefined;
  // The last quantum must re-encode to itself: no stray bits in the padding.
  const last = bytes.subarray(bytes.length - (3 - padding));
  if (last.toString('base64') !== text.slice(-4)) return undefined;
  return bytes;
}
