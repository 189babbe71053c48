// Reads a topic to its end with a chosen isolation level (readAll in avro-producer.ts is this, read
// committed). The end is found from the consumer's position, not from the last message's offset: the
// position also moves over transaction markers (control records) and aborted records that a
// read_committed consumer never sees. Caution: kafkajs 2.2.4's read_committed filter
// lets aborted records through when aborted transactions of several producers interleave (see
// readCommittedKeys in kafka-java.ts, the Java consumer the tests trust for the committed view); this
// reader's read_uncommitted view is exact.
import type { Kafka, KafkaMessage } from 'kafkajs';
import { ConsumerPositions } from '../../src/io/kafka/positions.js';
import { highWatermarks } from './avro-producer.js';
import { uniqueName } from './stack.js';

export interface TopicRecord {
  partition: number;
  message: KafkaMessage;
}

/**
 * Every record in `topic` up to its high watermark at call time, as a consumer with
 * isolation.level=read_committed (default) or read_uncommitted sees them. Throws when the end is not
 * reached within `timeoutMs` (read_committed: a transaction still open blocks at its first offset).
 */
export async function readToEnd(
  kafka: Kafka,
  topic: string,
  options: { isolation?: 'read_committed' | 'read_uncommitted'; timeoutMs?: number } = {},
): Promise<TopicRecord[]> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const high = await highWatermarks(kafka, topic);
  const pending = new Map([...high].filter(([, hw]) => hw > 0n));
  if (pending.size === 0) return [];
  const consumer = kafka.consumer({
    groupId: uniqueName('read-to-end'),
    readUncommitted: options.isolation === 'read_uncommitted',
    allowAutoTopicCreation: false,
  });
  const records: TopicRecord[] = [];
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  // The product's position tracker (src/io/kafka/positions.ts): markers and aborted records included.
  const positions = new ConsumerPositions(consumer, () => {
    for (const [partition, hw] of pending)
      if (positions.reached(topic, partition, hw)) pending.delete(partition);
    if (pending.size === 0) resolveDone();
  });
  await consumer.connect();
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) records.push({ partition: batch.partition, message });
      },
    });
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    if ((await Promise.race([done, timeout])) === 'timeout')
      throw new Error(
        `readToEnd(${topic}, ${options.isolation ?? 'read_committed'}): partitions ${[...pending.keys()].join(', ')} did not reach their high watermark within ${timeoutMs} ms`,
      );
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return records.filter((r) => BigInt(r.message.offset) < (high.get(r.partition) ?? 0n));
}
