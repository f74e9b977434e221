// Realistic plugin state of a given serialized size: settings plus a list of records with nested
// arrays, strings, numbers and booleans (not one big string), from a seeded generator so every run
// stores the same shapes.
import type { JsonValue } from '../src/index.js';

export type JsonObject = { [key: string]: JsonValue };

const WORDS = [
  'alpha',
  'branch',
  'commit',
  'delta',
  'editor',
  'folder',
  'gutter',
  'history',
  'index',
  'json',
  'kernel',
  'layout',
  'merge',
  'notebook',
  'outline',
  'panel',
  'query',
  'review',
  'search',
  'theme',
  'upstream',
  'view',
  'window',
  'xterm',
  'yaml',
  'zoom',
  'ünïcode',
  '日本語',
  'emoji 🎉',
];

/** mulberry32: small, fast, good enough to make varied test data reproducibly. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeItem(random: () => number, index: number): JsonObject {
  const int = (max: number) => Math.floor(random() * max);
  const word = () => WORDS[int(WORDS.length)]!;
  const words = (min: number, max: number) => Array.from({ length: min + int(max - min + 1) }, word);
  return {
    id: `item-${String(index).padStart(6, '0')}`,
    title: words(3, 7).join(' '),
    done: random() < 0.3,
    priority: 1 + int(5),
    score: Math.round(random() * 100_000) / 100,
    tags: words(1, 3),
    counts: Array.from({ length: 2 + int(4) }, () => int(10_000)),
    created: new Date(1_700_000_000_000 + int(30_000_000_000)).toISOString(),
    meta: {
      color: `#${int(0xffffff).toString(16).padStart(6, '0')}`,
      pinned: random() < 0.1,
      history: Array.from({ length: 1 + int(2) }, () => ({
        at: 1_700_000_000 + int(30_000_000),
        by: `user${int(50)}`,
        action: word(),
      })),
    },
  };
}

/** A state whose `JSON.stringify` is `bytes` UTF-8 bytes long (exactly, for `seq` below 10). */
export function makeStateData(bytes: number, seed = 1): JsonObject {
  const random = generator(seed);
  const items: JsonValue[] = [];
  const data: JsonObject = {
    schema: 3,
    seq: 0,
    settings: { theme: 'dark', fontSize: 14, wordWrap: true, rulers: [80, 110], locale: 'en-GB' },
    items,
    notes: '',
  };
  let size = Buffer.byteLength(JSON.stringify(data));
  for (;;) {
    const item = makeItem(random, items.length);
    const add = Buffer.byteLength(JSON.stringify(item)) + (items.length > 0 ? 1 : 0);
    if (size + add > bytes) break;
    items.push(item);
    size += add;
  }
  data.notes = 'n'.repeat(Math.max(0, bytes - size)); // under one item's size, to hit the size exactly
  return data;
}

/** The state saved as the `seq`-th one: the same shape, one field different. */
export function variant(base: JsonObject, seq: number): JsonObject {
  return { ...base, seq };
}

/** An edit of a stored state: its middle item retitled (a few bytes longer), as an update would. */
export function edited(base: JsonObject, seq: number): JsonObject {
  const items = (base.items as JsonObject[]).slice();
  const middle = items.length >> 1;
  const item = items[middle];
  if (item) items[middle] = { ...item, title: `${String(item.title)} (edit ${seq})` };
  return { ...base, seq, items };
}

/** The serialized size of `data`, in bytes. */
export function jsonBytes(data: JsonValue): number {
  return Buffer.byteLength(JSON.stringify(data));
}
