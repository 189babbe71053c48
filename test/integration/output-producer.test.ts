// The at-least-once output producer (src/io/kafka/producer.ts) on the real broker when a Produce
// response is lost after the broker wrote the batch (test/helpers/lost-response-socket.ts). kafkajs
// takes the batch's sequence numbers back; a later batch reusing them is dropped by the broker as a
// duplicate while its send resolves. Found by the broker-restart fault test (32 inputs lost, 2026-12-07).
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { OutputProducer } from '../../src/io/kafka/producer.js';
import type { OutRecord } from '../../src/io/kafka/types.js';
import { lostResponseSockets } from '../helpers/lost-response-socket.js';
import { readToEnd } from '../helpers/read-to-end.js';
import { createTopic, deleteTopics, kafkaBrokers, uniqueName } from '../helpers/stack.js';

const topics: string[] = [];
afterAll(() => deleteTopics(topics));

/** 32 records named `${name}-0` … (one partition: every batch competes for the same sequence numbers). */
function batch(topic: string, name: string): { topic: string; records: OutRecord[] } {
  const records = Array.from({ length: 32 }, (_, i) => ({
    key: `${name}-${i}`,
    value: Buffer.from(`${name}-${i}`),
  }));
  return { topic, records };
}

async function setUp(retries?: number) {
  const topic = await createTopic(uniqueName('output-producer'), 1);
  topics.push(topic);
  const faults = lostResponseSockets();
  const kafka = new Kafka({
    clientId: 'finsentry-test',
    brokers: kafkaBrokers(),
    logLevel: logLevel.NOTHING,
    socketFactory: faults.socketFactory,
  });
  const producer = new OutputProducer(kafka, {
    compression: 'none',
    ...(retries !== undefined ? { retries } : {}),
  });
  await producer.connect();
  const written = async (): Promise<Map<string, number>> => {
    const counts = new Map<string, number>();
    for (const r of await readToEnd(kafka, topic, { isolation: 'read_uncommitted' })) {
      const value = r.message.value!.toString();
      counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    return counts;
  };
  return { topic, faults, producer, written };
}

const missing = (counts: Map<string, number>, name: string): number =>
  Array.from({ length: 32 }, (_, i) => `${name}-${i}`).filter((v) => !counts.has(v)).length;

describe('output producer: a Produce response lost after the broker wrote the batch', () => {
  it('three sends at once, the first response lost: every record of every batch is written', async () => {
    const { topic, faults, producer, written } = await setUp();
    try {
      faults.loseNextProduceResponses();
      const sends = ['A', 'B', 'C'].map((name) => producer.send([batch(topic, name)]));
      const settled = await Promise.allSettled(sends);
      // A send that failed is sent again, as the pipeline does after its back-off.
      for (const [i, s] of settled.entries())
        if (s.status === 'rejected') await producer.send([batch(topic, 'ABC'[i]!)]);
      expect(faults.lost).toBe(1);
      const counts = await written();
      // kafkajs 2.2.4 with sends side by side: C missing 32, A written twice, every send resolved
      expect(['A', 'B', 'C'].map((name) => missing(counts, name))).toEqual([0, 0, 0]);
    } finally {
      await producer.disconnect();
    }
  });

  it('a send that fails after the broker wrote it: the next batch of the same size is still written', async () => {
    // One kafkajs retry (an idempotent producer needs one), and its response lost too: the send fails
    // although the broker holds the batch, as in a longer outage.
    const { topic, faults, producer, written } = await setUp(1);
    try {
      faults.loseNextProduceResponses(2);
      await expect(producer.send([batch(topic, 'A')])).rejects.toThrow();
      await producer.send([batch(topic, 'B')]);
      expect(faults.lost).toBe(2);
      await producer.send([batch(topic, 'A')]);
      const counts = await written();
      expect(missing(counts, 'B')).toBe(0);
      // A is there twice (the written attempt and the resend): at-least-once, never lost
      expect(missing(counts, 'A')).toBe(0);
      expect(counts.get('A-0')).toBe(2);
    } finally {
      await producer.disconnect();
    }
  });
});
