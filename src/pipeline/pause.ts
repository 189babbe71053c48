/**
 * Partition pauses with reasons. Backpressure and dependency retries both pause partitions; a
 * partition resumes only when no reason remains, so a finished retry cannot undo a backpressure pause.
 */
export type PauseReason = 'backpressure' | 'retry';

export class PauseRegistry {
  private readonly paused = new Map<string, { reasons: Set<PauseReason>; resume: () => void }>();

  /** `pauseFn` pauses the partition and returns its resume function (PartitionBatch.pause). */
  pause(topicPartition: string, reason: PauseReason, pauseFn: () => () => void): void {
    const entry = this.paused.get(topicPartition);
    if (entry) {
      entry.reasons.add(reason);
      return;
    }
    this.paused.set(topicPartition, { reasons: new Set([reason]), resume: pauseFn() });
  }

  resume(topicPartition: string, reason: PauseReason): void {
    const entry = this.paused.get(topicPartition);
    if (!entry) return;
    entry.reasons.delete(reason);
    if (entry.reasons.size === 0) {
      this.paused.delete(topicPartition);
      entry.resume();
    }
  }

  /** Removes `reason` from every partition (e.g. the queue drained below the low-water mark). */
  resumeAll(reason: PauseReason): void {
    for (const key of [...this.paused.keys()]) this.resume(key, reason);
  }

  get size(): number {
    return this.paused.size;
  }
}
