import type { Admin, Kafka } from 'kafkajs';

export interface TopicSpec {
  topic: string;
  numPartitions?: number;
  replicationFactor?: number;
  configEntries?: Array<{ name: string; value: string }>;
}

/**
 * Creates the topics that do not exist yet (existing ones are left as they are) and waits for their
 * partition leaders. The service calls it for its output topics at start-up; input topics belong to
 * the producers and are only checked.
 */
export async function ensureTopics(
  kafka: Kafka,
  topics: TopicSpec[],
  leaderTimeoutMs = 60_000,
): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.numPartitions ?? -1, // -1: broker default
          replicationFactor: t.replicationFactor ?? -1,
          configEntries: t.configEntries ?? [],
        })),
      });
      await waitForLeaders(
        admin,
        missing.map((t) => t.topic),
        leaderTimeoutMs,
      );
    }
    return missing.map((t) => t.topic);
  } finally {
    await admin.disconnect();
  }
}

/** Metadata errors of a topic created a moment ago, before every broker knows it. */
const NOT_YET = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * Waits until every partition of `topics` has a leader. kafkajs' own wait (`waitForLeaders`) retries
 * LEADER_NOT_AVAILABLE only; on a busy broker the metadata of a just-created topic can still answer
 * UNKNOWN_TOPIC_OR_PARTITION, and `finsentry run` then died at start (the evaluator creating the
 * alerts topic, in a clean-clone run beside two busy loops, 2026-12-07).
 */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      if (metadata.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      if (!NOT_YET.has((err as { type?: string }).type ?? '')) throw err;
    }
    if (Date.now() > deadline)
      throw new Error(`no leader for every partition of ${topics.join(', ')} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Topics among `names` that do not exist. */
export async function missingTopics(kafka: Kafka, names: string[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    return names.filter((n) => !existing.has(n));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads a consumer group's committed offset of one partition (next offset to read; null when the
 * group has none). Each call connects its own admin: the window-store state guard asks rarely (a
 * lost state, an unverifiable replay: src/pipeline/state-guard.ts), so nothing is kept open.
 */
export function committedOffsetReader(
  kafka: Kafka,
  groupId: string,
): (topic: string, partition: number) => Promise<string | null> {
  return async (topic, partition) => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const offset = offsets?.partitions.find((p) => p.partition === partition)?.offset;
      return offset !== undefined && Number(offset) >= 0 ? offset : null;
    } finally {
      await admin.disconnect();
    }
  };
}
