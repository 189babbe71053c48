import type { Consumer } from 'kafkajs';

/**
 * A consumer's position per partition (the next offset it will read), followed from kafkajs'
 * END_BATCH_PROCESS event. Readers that must know when they have read a topic to its end compare
 * this with the high watermark, not the last message's offset + 1: a topic written in transactions
 * (the alert publisher's) ends with a commit marker that no message carries, and aborted records are
 * never delivered to a read_committed consumer. The event fires after a batch's messages were
 * handled, also for fetches that held only markers, with the last offset the fetch covered.
 */
export class ConsumerPositions {
  private readonly next = new Map<string, bigint>();

  constructor(consumer: Consumer, onAdvance?: () => void) {
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const key = `${payload.topic}:${payload.partition}`;
      const next = BigInt(payload.lastOffset) + 1n;
      if (next > (this.next.get(key) ?? 0n)) this.next.set(key, next);
      onAdvance?.();
    });
  }

  /** True once the consumer has read `partition` of `topic` up to (excluding) `end`. */
  reached(topic: string, partition: number, end: bigint): boolean {
    return (this.next.get(`${topic}:${partition}`) ?? 0n) >= end;
  }
}
