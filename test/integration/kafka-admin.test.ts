// ensureTopics (src/io/kafka/admin.ts) on the real broker: creates what is missing, returns only when
// every partition has a leader (its own wait also rides over UNKNOWN_TOPIC_OR_PARTITION, which a busy
// broker answers for a topic created a moment ago), and leaves existing topics alone.
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../src/io/kafka/admin.js';
import { deleteTopics, kafkaBrokers, uniqueName } from '../helpers/stack.js';

const kafka = new Kafka({ clientId: 'finsentry-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
const names = [uniqueName('ensure-a'), uniqueName('ensure-b')];
afterAll(() => deleteTopics(names));

describe('ensureTopics', () => {
  it('creates the missing topics and returns once every partition has a leader; a second call creates nothing', async () => {
    const specs = [{ topic: names[0]!, numPartitions: 3 }, { topic: names[1]! }];
    expect((await ensureTopics(kafka, specs)).sort()).toEqual([...names].sort());
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: names });
      const byName = new Map(topics.map((t) => [t.name, t.partitions]));
      expect(byName.get(names[0]!)).toHaveLength(3);
      for (const partitions of byName.values())
        for (const p of partitions) expect(p.leader).toBeGreaterThanOrEqual(0);
    } finally {
      await admin.disconnect();
    }
    expect(await ensureTopics(kafka, specs)).toEqual([]);
  });
});
