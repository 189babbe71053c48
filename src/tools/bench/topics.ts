import type { Admin } from 'kafkajs';

/**
 * Creates the bench's topics and returns once every partition is served: `waitForLeaders` only waits
 * for the controller's election, and a producer that fetches metadata right after can still be told
 * "This server does not host this topic-partition" by a broker whose metadata cache lags. The
 * condition: every partition has a leader in the metadata AND its leader answers ListOffsets.
 */
export async function createServedTopics(
  admin: Admin,
  topics: readonly string[],
  numPartitions: number,
  timeoutMs = 60_000,
): Promise<void> {
  // The loop below is the wait: kafkajs' own (`waitForLeaders`) throws when the broker still answers
  // UNKNOWN_TOPIC_OR_PARTITION for the new topic (as src/io/kafka/admin.ts ensureTopics notes).
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions })) });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const served = await allPartitionsServed(admin, topics, numPartitions).catch(() => false);
    if (served) return;
    if (Date.now() > deadline)
      throw new Error(
        `bench: topics ${topics.join(', ')} not served by their leaders after ${timeoutMs / 1000}s`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function allPartitionsServed(
  admin: Admin,
  topics: readonly string[],
  numPartitions: number,
): Promise<boolean> {
  const { topics: meta } = await admin.fetchTopicMetadata({ topics: [...topics] });
  for (const t of meta) {
    if (t.partitions.length < numPartitions || t.partitions.some((p) => p.leader < 0)) return false;
  }
  // ListOffsets is answered by each partition's leader: it fails while a broker does not host it yet.
  for (const topic of topics) {
    const offsets = await admin.fetchTopicOffsets(topic);
    if (offsets.length < numPartitions) return false;
  }
  return true;
}
