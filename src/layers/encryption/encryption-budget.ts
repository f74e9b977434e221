import { keyWornOut, type Where, wrongKey } from './errors.js';
import type { ResolvedKey } from './key-ring.js';
import { configurationError } from './keys.js';
import type { MetadataRecord } from './metadata.js';

/**
 * NIST SP 800-38D bounds a GCM key used with random 96-bit IVs to 2^32 encryptions (the chance of a
 * repeated IV then stays below 2^-32). The layer refuses to encrypt past half of that by default,
 * and reports once a key has used half of its allowance.
 */
export const DEFAULT_MAX_ENCRYPTIONS_PER_KEY = 2 ** 31;
export const MAX_ENCRYPTIONS_PER_KEY = 2 ** 32;

/** Encryptions an instance reserves at first; each further reservation doubles, up to the largest. */
const FIRST_BLOCK = 1024;
const LARGEST_BLOCK = 65_536;

export function checkEncryptionLimit(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_ENCRYPTIONS_PER_KEY;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_ENCRYPTIONS_PER_KEY) {
    throw configurationError(
      `encrypted: maxEncryptionsPerKey must be a whole number from 1 to 2^32, got ${String(value)}.`,
    );
  }
  return value;
}

/** Why a reservation was refused: a wrong key, or a key that has used its allowance. */
class Refusal extends Error {
  constructor(readonly reason: 'wrong key' | 'worn out') {
    super(reason);
  }
}

interface Slot {
  /** Encryptions reserved in the metadata record and not yet done by this instance. */
  remaining: number;
  block: number;
  reserving: Promise<void> | undefined;
  warned: boolean;
}

/**
 * Counts encryptions per key. The count lives in the store's metadata record, shared by every
 * instance and process: an instance reserves a block of encryptions there with compare-and-set,
 * then spends it in memory. The stored count is therefore never below the encryptions done; a
 * process that exits leaves the rest of its block unused (at most 65,536 per instance).
 */
export class EncryptionBudget {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly metadata: MetadataRecord,
    readonly limit: number,
    private readonly warn: (message: string) => void,
  ) {}

  /** Counts one encryption under `key`; returns a promise only when a block must be reserved first. */
  take(key: ResolvedKey, where: () => Where): Promise<void> | undefined {
    const slot = this.slot(key.id);
    if (slot.remaining > 0) {
      slot.remaining--;
      return undefined;
    }
    return this.refill(key, slot).then(
      () => this.take(key, where),
      (error: unknown) => {
        // Every save waiting on the reservation gets an error naming its own plugin.
        if (error instanceof Refusal) {
          throw error.reason === 'wrong key'
            ? wrongKey(where(), key.id, true)
            : keyWornOut(where(), key.id, this.limit);
        }
        throw error;
      },
    );
  }

  private slot(id: string): Slot {
    let slot = this.slots.get(id);
    if (!slot) {
      slot = { remaining: 0, block: FIRST_BLOCK, reserving: undefined, warned: false };
      this.slots.set(id, slot);
    }
    return slot;
  }

  private refill(key: ResolvedKey, slot: Slot): Promise<void> {
    slot.reserving ??= this.reserve(key, slot).finally(() => {
      slot.reserving = undefined;
    });
    return slot.reserving;
  }

  private async reserve(key: ResolvedKey, slot: Slot): Promise<void> {
    let granted = 0;
    let total = 0;
    await this.metadata.update((metadata) => {
      let usage = metadata.keys.get(key.id);
      if (!usage) {
        usage = { check: key.check, encryptions: 0 };
        metadata.keys.set(key.id, usage);
      } else if (usage.check !== key.check) {
        throw new Refusal('wrong key');
      }
      if (usage.encryptions >= this.limit) throw new Refusal('worn out');
      granted = Math.min(slot.block, this.limit - usage.encryptions);
      usage.encryptions += granted;
      total = usage.encryptions;
    });
    slot.remaining += granted;
    slot.block = Math.min(slot.block * 2, LARGEST_BLOCK);
    if (!slot.warned && total >= this.limit / 2) {
      slot.warned = true;
      this.warn(
        `the key "${key.id}" has reserved ${total} of its ${this.limit} encryptions in this store; ` +
          'rotate soon: make a new key the current key, keep this one in olderKeys, and run rotateKeys(storage).',
      );
    }
  }
}
