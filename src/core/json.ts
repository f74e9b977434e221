import { isUtf8 } from 'node:buffer';
import secureJson from 'secure-json-parse';
import type { ValidationIssue } from './errors.js';
import type { StateLimits } from './limits.js';
import type { JsonValue } from './types.js';

/** At most this many issues are collected from one value: enough to fix it, bounded for huge inputs. */
const MAX_ISSUES = 10;

type PathPart = string | number;

/** Formats a path such as `data.items[3].when`; keys that are not identifiers are quoted. */
export function formatPath(root: string, parts: readonly PathPart[]): string {
  let out = root;
  for (const part of parts) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) out += `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'bigint') return `a BigInt (${value}n)`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  const name = (value as object).constructor?.name;
  return name ? `a ${name}` : 'an object with a custom prototype';
}

/**
 * Walks a value and lists what keeps it from being plain JSON that round-trips exactly:
 * undefined, functions, symbols, BigInt, NaN, ±Infinity, class instances (Date, Map, …), array holes,
 * cycles, `__proto__` keys, `constructor.prototype` payloads, and nesting deeper than `maxDepth`.
 * Returns an empty list when the value is fine.
 */
export function findJsonIssues(value: unknown, maxDepth: number, root = 'data'): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const path: PathPart[] = [];
  const ancestors: object[] = [];

  const report = (message: string): boolean => {
    issues.push({ path: formatPath(root, path), message });
    return issues.length >= MAX_ISSUES;
  };

  // Returns true once enough issues are collected, to stop the walk early.
  const visit = (node: unknown, depth: number): boolean => {
    switch (typeof node) {
      case 'string':
      case 'boolean':
        return false;
      case 'number':
        return Number.isFinite(node) ? false : report(`${node} is not a JSON number`);
      case 'object':
        break;
      default:
        return report(`${describeValue(node)} is not JSON`);
    }
    if (node === null) return false;
    if (depth >= maxDepth) {
      if (ancestors.includes(node)) return report('cycle: the value contains itself');
      return report(`nested deeper than the limit of ${maxDepth} levels`);
    }
    ancestors.push(node);
    try {
      if (Array.isArray(node)) {
        for (let i = 0; i < node.length; i++) {
          path.push(i);
          const stop = i in node ? visit(node[i], depth + 1) : report('array hole (undefined) is not JSON');
          path.pop();
          if (stop) return true;
        }
        return false;
      }
      const proto = Object.getPrototypeOf(node);
      if (proto !== Object.prototype && proto !== null) {
        return report(`${describeValue(node)} is not plain JSON; convert it (e.g. a Date to an ISO string)`);
      }
      if (Object.getOwnPropertySymbols(node).length > 0) {
        return report('symbol keys are not JSON');
      }
      for (const key of Object.keys(node)) {
        path.push(key);
        const child = (node as Record<string, unknown>)[key];
        let stop: boolean;
        if (key === '__proto__') {
          stop = report('the key "__proto__" is refused: it can pollute prototypes when read back');
        } else if (
          key === 'constructor' &&
          typeof child === 'object' &&
          child !== null &&
          Object.hasOwn(child, 'prototype')
        ) {
          stop = report('a "constructor.prototype" payload is refused: it can pollute prototypes');
        } else {
          stop = visit(child, depth + 1);
        }
        path.pop();
        if (stop) return true;
      }
      return false;
    } finally {
      ancestors.pop();
    }
  };

  visit(value, 0);
  return issues;
}

/** How deep a parsed JSON value nests, stopping as soon as it passes `limit` (so huge inputs stay cheap). */
export function exceedsDepth(value: JsonValue, limit: number): boolean {
  // Iterative: a tampered file may nest 100,000 levels, which a recursive walk would not survive.
  const stack: Array<[JsonValue, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= limit) return true;
    if (Array.isArray(node)) {
      for (const child of node)
        if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    } else {
      for (const key in node) {
        const child = node[key]!;
        if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
      }
    }
  }
  return false;
}

/** UTF-8 byte length of a string, computed only when the cheap bounds cannot decide. */
export function exceedsBytes(text: string, maxBytes: number): number | undefined {
  if (text.length > maxBytes) return Buffer.byteLength(text);
  if (text.length * 3 <= maxBytes) return undefined;
  const bytes = Buffer.byteLength(text);
  return bytes > maxBytes ? bytes : undefined;
}

/** Why stored bytes could not be read back as JSON. */
export class JsonDecodeError extends Error {}

/**
 * Parses stored bytes without trusting them: invalid UTF-8 is refused (never silently replaced),
 * `__proto__` and `constructor.prototype` payloads are refused so nothing can pollute a prototype,
 * and values nested deeper than `limits.maxDepth` are refused.
 */
export function parseStoredJson(bytes: Buffer | string, limits: StateLimits): unknown {
  let text: string;
  if (typeof bytes === 'string') {
    text = bytes;
  } else {
    if (!isUtf8(bytes)) throw new JsonDecodeError('the bytes are not valid UTF-8');
    text = bytes.toString('utf8');
  }
  let parsed: unknown;
  try {
    parsed = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    throw new JsonDecodeError(error instanceof Error ? error.message : String(error));
  }
  // The envelope adds one level around `data`.
  if (
    parsed !== null &&
    typeof parsed === 'object' &&
    exceedsDepth(parsed as JsonValue, limits.maxDepth + 1)
  ) {
    throw new JsonDecodeError(`the value nests deeper than the limit of ${limits.maxDepth} levels`);
  }
  return parsed;
}

/** A deep copy of a JSON value; several times faster than `structuredClone` or a parse. */
export function cloneJson<T extends JsonValue>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const length = value.length;
    const out = new Array(length);
    for (let i = 0; i < length; i++) out[i] = cloneJson(value[i]!);
    return out as T;
  }
  const out: Record<string, JsonValue> = {};
  for (const key in value) out[key] = cloneJson((value as Record<string, JsonValue>)[key]!);
  return out as T;
}
