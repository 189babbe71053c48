import type { TopicMessages } from 'kafkajs';
import { chunkBySize } from '../../domain/records.js';
import type { OutRecord } from './types.js';

/** Default of limits.maxOutputBatchBytes: Kafka's default message.max.bytes (1,048,588) less overhead and slack. */
export const DEFAULT_MAX_OUTPUT_BATCH_BYTES = 1_000_000;

/**
 * The produce requests for `batches`, each topic's records cut into runs of at most `maxBytes` (key +
 * value + headers). The broker's limit (`message.max.bytes`) is per record batch and one request puts a
 * partition's records in one batch, so an unsplit request of several large records is refused as a
 * whole (MESSAGE_TOO_LARGE) and retried for ever (issue 14: two accepted records with a 780 KB url made
 * a 1.57 MB enriched batch). A record larger than `maxBytes` alone still goes alone in its request. The
 * size counted is uncompressed, so with gzip the bound is conservative. Requests keep the records' order.
 */
export function sizedRequests(
  batches: ReadonlyArray<{ topic: string; records: OutRecord[] }>,
  maxBytes: number = DEFAULT_MAX_OUTPUT_BATCH_BYTES,
): TopicMessages[] {
  const requests: TopicMessages[] = [];
  for (const { topic, records } of batches)
    for (const chunk of chunkBySize(records, maxBytes))
      requests.push({
        topic,
        messages: chunk.map((r) => ({ key: r.key, value: r.value, headers: r.headers ?? {} })),
      });
  return requests;
}
