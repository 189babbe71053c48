import type { Kafka } from 'kafkajs';

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
export async function ensureTopics(kafka: Kafka, topics: TopicSpec[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.numPartitions ?? -1, // -1: broker default
          replicationFactor: t.replicationFactor ?? -1,
          configEntries: t.configEntries ?? [],
        })),
      });
    }
    return missing.map((t) => t.topic);
  } finally {
    await admin.disconnect();
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
