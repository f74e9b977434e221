import { ValidationError } from './errors.js';

/** Size and shape limits every storage enforces on the data of a state. */
export interface StateLimits {
  /** Deepest nesting of arrays and objects allowed in `data` (default 128). */
  maxDepth: number;
  /** Largest serialized size of `data` in bytes (default 10 MiB, the spec's storage limit). */
  maxBytes: number;
}

export const DEFAULT_LIMITS: Readonly<StateLimits> = Object.freeze({
  maxDepth: 128,
  maxBytes: 10 * 1024 * 1024,
});

/** The deepest nesting a store may be configured for: deeper values would strain the call stack. */
export const MAX_CONFIGURABLE_DEPTH = 4096;

/** Fills in defaults and refuses limits that make no sense. */
export function resolveLimits(limits: Partial<StateLimits> | undefined): StateLimits {
  const resolved = { ...DEFAULT_LIMITS, ...limits };
  if (
    !Number.isInteger(resolved.maxDepth) ||
    resolved.maxDepth < 1 ||
    resolved.maxDepth > MAX_CONFIGURABLE_DEPTH
  ) {
    throw new ValidationError(
      `limits.maxDepth must be a whole number from 1 to ${MAX_CONFIGURABLE_DEPTH}, got ${resolved.maxDepth}.`,
      { operation: 'configure' },
    );
  }
  if (!Number.isSafeInteger(resolved.maxBytes) || resolved.maxBytes < 2) {
    throw new ValidationError(
      `limits.maxBytes must be a whole number of bytes >= 2, got ${resolved.maxBytes}.`,
      {
        operation: 'configure',
      },
    );
  }
  return resolved;
}
