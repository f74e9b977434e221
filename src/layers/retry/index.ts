export { type RetryPolicy, retrying } from './retrying.js';
export { isTransientError } from './transient.js';
