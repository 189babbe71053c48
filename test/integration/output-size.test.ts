// Size-aware produce requests (src/io/kafka/sized-requests.ts) against the real broker: a topic with
// a 256 KiB max.message.bytes and three enriched-sized records of 120 KB sent in one call. Unsplit,
// kafkajs puts them in one 360 KB record batch, which the broker refuses (MESSAGE_TOO_LARGE, retried
// for ever by the pipeline); split, every record arrives, in order.
import { describe, expect, it } from 'vitest';
import { OutputProducer } from '../../src/io/kafka/producer.js';
import { readAll, testKafka } from '../helpers/avro-producer.js';
import { deleteTopics, uniqueName } from '../helpers/stack.js';

const LIMIT = 256 * 1024;

describe('output produce requests under the broker limit', () => {
  it('splits a send of records that together exceed the topic limit; each record arrives once, in order', async () => {
    const kafka = testKafka();
    const topic = uniqueName('fs-outsize');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: 1,
          configEntries: [{ name: 'max.message.bytes', value: String(LIMIT) }],
        },
      ],
    });
    await admin.disconnect();
    const records = ['a', 'b', 'c'].map((k) => ({ key: k, value: Buffer.alloc(120_000, k) }));
    try {
      const unsplit = new OutputProducer(kafka, {
        compression: 'none',
        maxBatchBytes: 10_000_000,
        retries: 1,
      });
      await unsplit.connect();
      const refused = await unsplit.send([{ topic, records }]).then(
        () => null,
        (err: Error) => err.message,
      );
      await unsplit.disconnect();

      const split = new OutputProducer(kafka, { compression: 'none', maxBatchBytes: 200_000 });
      await split.connect();
      await split.send([{ topic, records }]);
      await split.disconnect();
      const read = await readAll(kafka, topic);
      console.log(
        `output size: one request of 3 x 120 KB to a ${LIMIT}-byte topic: ${refused ?? 'accepted'}; split in runs of 200 KB: ${read.length} records arrived`,
      );
      expect(refused).toMatch(/larger than the max message size/);
      expect(read.map((r) => r.message.key?.toString())).toEqual(['a', 'b', 'c']);
    } finally {
      await deleteTopics([topic]);
    }
  }, 120_000);
});
