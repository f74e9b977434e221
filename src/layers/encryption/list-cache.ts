import { cloneJson } from '../../core/json.js';
import type { JsonValue, PluginId, PluginState } from '../../core/types.js';

/** Records whose ciphertext is longer are decrypted on every list rather than kept in memory. */
const MAX_CACHED_CIPHERTEXT = 64 * 1024;

interface Decrypted {
  /** The exact envelope fields that were authenticated and decrypted. */
  kid: string;
  iv: string;
  tag: string;
  ct: string;
  version: number;
  data: JsonValue;
}

/**
 * Remembers what the last `listStates` decrypted, so the next list decrypts only records whose
 * envelope changed (1,000 records cost ~18 µs each to open and parse again).
 *
 * A hit needs the same plugin id, schema version, key id, IV, tag and ciphertext, character for
 * character: exactly the inputs that were authenticated before, which can only decrypt to the same
 * plaintext. Any change, tampering included, misses and goes through full authentication.
 */
export class DecryptedListCache {
  private entries = new Map<PluginId, Decrypted>();
  private next = new Map<PluginId, Decrypted>();

  /** The state from the cache, as a fresh copy, when its envelope is the one decrypted before. */
  lookup(stored: PluginState): PluginState | undefined {
    const entry = this.entries.get(stored.pluginId);
    const envelope = stored.data as Record<string, unknown> | null;
    if (
      entry === undefined ||
      envelope === null ||
      typeof envelope !== 'object' ||
      entry.ct !== envelope.ct ||
      entry.tag !== envelope.tag ||
      entry.iv !== envelope.iv ||
      entry.kid !== envelope.kid ||
      entry.version !== (stored.version ?? 1)
    ) {
      return undefined;
    }
    this.next.set(stored.pluginId, entry);
    return { ...stored, data: cloneJson(entry.data), version: entry.version };
  }

  /** Keeps what a list just decrypted from `stored`. */
  remember(stored: PluginState, decrypted: PluginState): void {
    const envelope = stored.data as Record<string, string>;
    if (typeof envelope.ct !== 'string' || envelope.ct.length > MAX_CACHED_CIPHERTEXT) return;
    this.next.set(stored.pluginId, {
      kid: envelope.kid!,
      iv: envelope.iv!,
      tag: envelope.tag!,
      ct: envelope.ct,
      version: stored.version ?? 1,
      data: cloneJson(decrypted.data),
    });
  }

  /** Ends a list: only the records it saw stay cached, so deleted ones are forgotten. */
  commit(): void {
    this.entries = this.next;
    this.next = new Map();
  }

  /** Ends a list that failed: nothing it saw is kept. */
  discard(): void {
    this.next = new Map();
  }
}
