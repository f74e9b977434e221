import { isUtf8 } from 'node:buffer';
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
  // Almost every value is fine: prove that without allocating, and pay for paths only on failure.
  return isPlainJson(value, maxDepth, 0) ? [] : describeJsonIssues(value, maxDepth, root);
}

function isJsonPrimitive(value: unknown): boolean {
  // `value - value === 0` is false exactly for NaN and ±Infinity.
  return (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && value - value === 0)
  );
}

/**
 * The fast check: true when the value is certainly plain JSON within the depth limit. Keys named
 * `constructor` send the value to the slow path, which tells a harmless one from a payload.
 */
function isPlainJson(node: unknown, maxDepth: number, depth: number): boolean {
  if (typeof node !== 'object') return isJsonPrimitive(node);
  if (node === null) return true;
  if (depth >= maxDepth) return false;
  if (Array.isArray(node)) {
    for (let i = 0, length = node.length; i < length; i++) {
      if (!isPlainJsonChild(node[i], maxDepth, depth + 1)) return false;
    }
    return true;
  }
  const proto = Object.getPrototypeOf(node);
  if (proto !== Object.prototype && proto !== null) return false;
  if (Object.getOwnPropertySymbols(node).length > 0) return false;
  for (const key in node) {
    if (key === '__proto__' || key === 'constructor') return false;
    if (!isPlainJsonChild((node as Record<string, unknown>)[key], maxDepth, depth + 1)) return false;
  }
  return true;
}

function isPlainJsonChild(child: unknown, maxDepth: number, depth: number): boolean {
  return typeof child === 'object'
    ? child === null || isPlainJson(child, maxDepth, depth)
    : isJsonPrimitive(child);
}

/** The slow check: every issue with its path. */
function describeJsonIssues(value: unknown, maxDepth: number, root: string): ValidationIssue[] {
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

/**
 * Checks a value that `JSON.parse` produced from untrusted bytes: nesting within `limit`, and no
 * `__proto__` key or `constructor.prototype` payload that could pollute a prototype when the host
 * merges the value into its objects. Iterative: a tampered file may nest 100,000 levels.
 */
function checkParsedJson(value: unknown, limit: number, shownLimit: number): void {
  const nodes: object[] = [];
  const depths: number[] = [];
  checkNumber(value);
  if (value !== null && typeof value === 'object') {
    nodes.push(value);
    depths.push(0);
  }
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    const depth = depths.pop()!;
    if (depth >= limit)
      throw new JsonDecodeError(`the value nests deeper than the limit of ${shownLimit} levels`);
    if (Array.isArray(node)) {
      for (const child of node) {
        if (child !== null && typeof child === 'object') {
          nodes.push(child);
          depths.push(depth + 1);
        } else checkNumber(child);
      }
      continue;
    }
    for (const key in node) {
      const child: unknown = (node as Record<string, unknown>)[key];
      if (key === '__proto__')
        throw new JsonDecodeError('it holds a "__proto__" key, which could pollute prototypes');
      if (child === null || typeof child !== 'object') {
        checkNumber(child);
        continue;
      }
      if (key === 'constructor' && Object.hasOwn(child, 'prototype')) {
        throw new JsonDecodeError(
          'it holds a "constructor.prototype" payload, which could pollute prototypes',
        );
      }
      nodes.push(child);
      depths.push(depth + 1);
    }
  }
}

/**
 * `JSON.parse` reads a number beyond the range of a double (`1e400`) as ±Infinity, which no save
 * accepts and `JSON.stringify` would write as `null`: refused, like any other corruption.
 */
function checkNumber(value: unknown): void {
  if (typeof value === 'number' && value - value !== 0) {
    throw new JsonDecodeError('it holds a number beyond the range of a double (it would read as ±Infinity)');
  }
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
 * numbers beyond the range of a double are refused, and values nested deeper than
 * `limits.maxDepth` are refused (plus `wrapperLevels`, for an envelope around the data).
 *
 * `JSON.parse` itself defines a `__proto__` key as a plain own property, so parsing is safe; the
 * danger is in what a host does with the value later. The check is one walk that also measures
 * depth, where secure-json-parse would add two regular-expression scans of the text (1.3 ms per
 * MiB here) to the same walk.
 */
export function parseStoredJson(bytes: Buffer | string, limits: StateLimits, wrapperLevels = 0): unknown {
  let text: string;
  if (typeof bytes === 'string') {
    text = bytes;
  } else {
    if (!isUtf8(bytes)) throw new JsonDecodeError('the bytes are not valid UTF-8');
    text = bytes.toString('utf8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new JsonDecodeError(error instanceof Error ? error.message : String(error));
  }
  checkParsedJson(parsed, limits.maxDepth + wrapperLevels, limits.maxDepth);
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
