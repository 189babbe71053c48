import type { InputLabel } from '../codec/validate.js';
import { AbandonBatch } from './batch-retry.js';
import { prefetchSchemas } from './chunk-flow.js';
import { sendDeadLetters, type RejectedRecord } from './dead-letters.js';
import type { BatchContext, ProcessorRuntime } from './processor-types.js';
import { allSettledOrThrow } from './retry.js';

/**
 * The records of a labels-topic batch (design §2, §5): decoded labels go to the LabelSink, bad ones to
 * the DLQ. The partition worker commits the batch once both are acknowledged.
 */
export async function processLabels(rt: ProcessorRuntime, ctx: BatchContext): Promise<void> {
  const sink = rt.deps.labels;
  if (!sink) throw new AbandonBatch('labels topic consumed without a LabelSink');
  const { batch } = ctx;
  rt.observer.documentsConsumed(batch.topic, 'label', batch.records.length);
  await prefetchSchemas(rt, ctx);
  const labels: InputLabel[] = [];
  const rejected: RejectedRecord[] = [];
  for (const record of batch.records) {
    const result = rt.deps.codec.label(record);
    if (result.ok) labels.push(result.value);
    else rejected.push({ record, rejection: result.rejection });
  }
  await allSettledOrThrow([
    rejected.length > 0 ? sendDeadLetters(rt, ctx, rejected) : Promise.resolve(),
    labels.length > 0 ? ctx.retry('labels', () => sink.accept(labels)) : Promise.resolve(),
  ]);
  rt.counters.labels += labels.length;
}
