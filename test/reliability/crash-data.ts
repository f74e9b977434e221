// What the crash test's child saves, and how anyone can tell a saved state is whole: shared by the
// child (test/helpers/crash-worker.ts) and the checks of the parent (crash-loop.ts).
//
// Every state carries its own id, its sequence number (unique across the whole run) and a hash of
// both and of every character of its payload. A state cut short or made of two saves (the header
// of one and the data of another, half of one payload and half of another) fails the hash or
// names the wrong sequence number for its revision; the parent knows which sequence number and
// hash each revision must hold.
import { createCipheriv, createHash } from 'node:crypto';

/** The data of one save. A type (not an interface), so that it is a JsonValue. */
export type CrashData = {
  id: string;
  seq: number;
  /** Characters of payload, all parts together. */
  bytes: number;
  parts: string[];
  hash: string;
};

/** Characters per part of the payload. */
const PART = 32 * 1024;

/** States at least this big count as "big": a kill while one is being saved lands mid-write of ~1 MB. */
export const BIG_BYTES = 768 * 1024;
export const MAX_BYTES = 1024 * 1024;
export const MIN_BYTES = 1024;

/** The hash a state of `id` with sequence number `seq` and these parts must carry. */
export function hashOf(id: string, seq: number, parts: readonly string[]): string {
  const hash = createHash('sha256').update(`${id}\0${seq}\0${parts.length}\0`);
  for (const part of parts) hash.update(`${part.length}:`).update(part);
  return hash.digest('hex').slice(0, 32);
}

/**
 * The data of save `seq` of `id`: `bytes` characters of base64 text, different for every
 * sequence number (AES-CTR keyed by it: deterministic, and about 1 ms per MB).
 */
export function crashData(id: string, seq: number, bytes: number): CrashData {
  const key = createHash('sha256').update(`crash-payload ${seq}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const text = cipher.update(Buffer.alloc(Math.ceil((bytes * 3) / 4) + 3)).toString('base64');
  const parts: string[] = [];
  for (let at = 0; at < bytes; at += PART) parts.push(text.slice(at, Math.min(at + PART, bytes)));
  return { id, seq, bytes, parts, hash: hashOf(id, seq, parts) };
}

/** A size from 1 KiB to 1 MiB: a quarter of them 768 KiB or more, the rest spread evenly on a log scale. */
export function pickBytes(next: () => number): number {
  if (next() < 0.25) return Math.floor(768 * 1024 + next() * (MAX_BYTES - 768 * 1024));
  return Math.floor(MIN_BYTES * ((768 * 1024) / MIN_BYTES) ** next());
}

/**
 * Checks a stored state's data against itself: the id it was saved for, and its hash. Returns
 * what it holds, or why it is not whole.
 */
export function checkData(
  id: string,
  data: unknown,
): { ok: true; seq: number; hash: string } | { ok: false; why: string } {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, why: `the data is ${describe(data)}, not the object the child saved` };
  }
  const d = data as Partial<CrashData>;
  if (d.id !== id) return { ok: false, why: `the data names id ${describe(d.id)}` };
  if (typeof d.seq !== 'number' || typeof d.hash !== 'string' || !Array.isArray(d.parts)) {
    return { ok: false, why: 'the data lacks seq, hash or parts' };
  }
  if (!d.parts.every((part) => typeof part === 'string')) return { ok: false, why: 'a part is not a string' };
  const length = d.parts.reduce((sum, part) => sum + part.length, 0);
  if (length !== d.bytes) return { ok: false, why: `the parts hold ${length} characters, not ${d.bytes}` };
  const hash = hashOf(id, d.seq, d.parts);
  if (hash !== d.hash)
    return { ok: false, why: `seq ${d.seq}: the content hashes to ${hash}, not ${d.hash}` };
  return { ok: true, seq: d.seq, hash };
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/** A small deterministic generator (xorshift32), so that a run can be repeated from its seed. */
export function random(seed: number): () => number {
  // Scrambled first (murmur3's finalizer), so that neighbouring seeds start far apart.
  let state = seed >>> 0;
  state = Math.imul(state ^ (state >>> 16), 0x85ebca6b);
  state = Math.imul(state ^ (state >>> 13), 0xc2b2ae35);
  state = (state ^ (state >>> 16)) >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}
