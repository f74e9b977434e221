/** The SHA-256 of every record line, in order, packed 32 bytes each (a million records: 32 MB). */
export class DigestList {
  private static readonly PER_BLOCK = 4096;
  private readonly blocks: Buffer[] = [];
  length = 0;

  push(digest: Buffer): void {
    const slot = this.length % DigestList.PER_BLOCK;
    if (slot === 0) this.blocks.push(Buffer.allocUnsafe(32 * DigestList.PER_BLOCK));
    digest.copy(this.blocks.at(-1)!, slot * 32);
    this.length++;
  }

  matches(index: number, digest: Buffer): boolean {
    if (index >= this.length) return false;
    const block = this.blocks[Math.floor(index / DigestList.PER_BLOCK)]!;
    const offset = (index % DigestList.PER_BLOCK) * 32;
    return block.subarray(offset, offset + 32).equals(digest);
  }
}
