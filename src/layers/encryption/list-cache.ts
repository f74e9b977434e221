import { cloneJson } from '../../core/json.js';
import type { JsonValue, PluginId, PluginState } from '../../core/types.js';
import { ENVELOPE_FORMAT, ENVELOPE_MARKER } from './envelope.js';

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
 * plaintext. Any change, tampering included, misses and goes through full authentication. So does a
 * revision brought back from history: a restore through the layer re-encrypts with a fresh IV, and
 * an old envelope put back under the layer is opened again unless it is the very one cached, which
 * can only hold the same data. Revision and `lastModified` always come from the record as stored now.
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
      entry.version !== (stored.version ?? 1) ||
      !isWellFormedEnvelope(envelope)
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

  /**
   * Drops what is kept of one state, when it is deleted or purged: not for correctness (a hit needs
   * the exact envelope, whatever happened in between, history restores included) but so that a
   * purged state's plaintext is not kept in memory until the next list.
   */
  forget(pluginId: PluginId): void {
    this.entries.delete(pluginId);
    this.next.delete(pluginId);
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

/**
 * The marker and the exact five fields, as a full read requires: a hit must not let through an
 * envelope that `loadState` would refuse, even when its ciphertext is the one decrypted before.
 */
function isWellFormedEnvelope(envelope: Record<string, unknown>): boolean {
  if (envelope[ENVELOPE_MARKER] !== ENVELOPE_FORMAT) return false;
  let fields = 0;
  for (const key in envelope) {
    if (key !== ENVELOPE_MARKER && key !== 'kid' && key !== 'iv' && key !== 'tag' && key !== 'ct')
      return false;
    fields++;
  }
  return fields === 5;
}
