import type { Rejection } from '../codec/reasons.js';
import type { RawRecord } from '../io/kafka/types.js';
import { buildDeadLetter, chunkBySize, DEFAULT_MAX_DEAD_LETTER_BYTES } from './dlq.js';
import type { BatchContext, ProcessorRuntime } from './processor-types.js';

export type RejectedRecord = { record: RawRecord; rejection: Rejection };

/** Sends rejected records to the DLQ topic (design §1: bad input is dead-lettered, the pipeline moves on). */
export async function sendDeadLetters(
  rt: ProcessorRuntime,
  ctx: BatchContext,
  rejected: RejectedRecord[],
): Promise<void> {
  const { options, observer } = rt;
  const now = rt.clock();
  const records = rejected.map(({ record, rejection }) =>
    buildDeadLetter(record, rejection, {
      consumerGroup: options.groupId,
      nowMs: now,
      ...(options.maxDeadLetterBytes !== undefined ? { maxBytes: options.maxDeadLetterBytes } : {}),
    }),
  );
  // The broker's size limit is per record batch, and one send puts a partition's records in one
  // batch: dead letters go in sends of at most maxDeadLetterBytes together (each one fits alone).
  const chunks = chunkBySize(records, options.maxDeadLetterBytes ?? DEFAULT_MAX_DEAD_LETTER_BYTES);
  await ctx.retry('dlq-produce', async () => {
    for (const chunk of chunks) await ctx.out.send([{ topic: options.topics.dlq, records: chunk }]);
  });
  for (const { record, rejection } of rejected) {
    observer.dlq(rejection.reason);
    rt.deps.logger.warn(
      {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        reason: rejection.reason,
        stage: rejection.stage,
        detail: rejection.message,
      },
      'record dead-lettered',
    );
  }
  rt.counters.deadLettered += rejected.length;
  observer.produced(options.topics.dlq, records.length);
}
