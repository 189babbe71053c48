/**
 * Commit ordering for one partition. Records of a batch finish out of order (micro-batches enrich
 * concurrently, DLQ records are done before enriched ones), but a Kafka commit means "everything before
 * this offset is done". The tracker releases an offset only when it and every earlier tracked offset
 * are complete, so a commit never skips over unfinished work.
 */
export class PartitionOffsetTracker {
  /** Tracked offsets, ascending; the head is the oldest not yet released. */
  private readonly pending: bigint[] = [];
  private readonly completed = new Set<bigint>();
  private lastTracked: bigint | null = null;

  /** Registers offsets in fetch order; they must be strictly increasing (gaps are fine: compaction, control records). */
  track(offsets: Iterable<string>): void {
    for (const text of offsets) {
      const offset = BigInt(text);
      if (this.lastTracked !== null && offset <= this.lastTracked) {
        throw new Error(`offset ${text} tracked after ${this.lastTracked}: offsets must increase`);
      }
      this.pending.push(offset);
      this.lastTracked = offset;
    }
  }

  complete(offsets: Iterable<string>): void {
    for (const text of offsets) {
      const offset = BigInt(text);
      if (!this.pending.includes(offset))
        throw new Error(`offset ${text} is not tracked (or already released)`);
      this.completed.add(offset);
    }
  }

  /**
   * Pops the completed prefix and returns its last offset (the one to commit, +1), or null when the
   * oldest tracked offset is still in progress.
   */
  release(): string | null {
    let released: bigint | null = null;
    while (this.pending.length > 0 && this.completed.has(this.pending[0]!)) {
      released = this.pending.shift()!;
      this.completed.delete(released);
    }
    return released === null ? null : released.toString();
  }

  /** Offsets tracked but not yet released. */
  get outstanding(): number {
    return this.pending.length;
  }
}
