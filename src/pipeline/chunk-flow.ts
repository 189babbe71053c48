import { performance } from 'node:perf_hooks';
import type { Span } from '@opentelemetry/api';
import type { DocumentKind, InputDocument } from '../domain/documents.js';
import type { Enrichment } from '../domain/enrichment.js';
import type { StatsObservation } from '../domain/observation.js';
import type { StatsApplyResult, StatsBatch } from '../domain/windows.js';
import type { OutRecord, RawRecord } from '../domain/records.js';
import { withRegistryStoryIds } from '../stats/shared-stories.js';
import { withStageSpan } from '../telemetry/tracing.js';
import { recordFingerprint } from '../domain/partition-state.js';
import { sendDeadLetters, type RejectedRecord } from './dead-letters.js';
import { enrichChunk, isRejection } from './enrich-step.js';
import { enrichedRecord, withPersonsPseudonymised } from './enriched-output.js';
import { lateRecords } from './late-records.js';
import type { BatchContext, DecodedItem, ProcessorRuntime } from './processor-types.js';
import { allSettledOrThrow } from './retry.js';

/** The promises of one micro-batch: `done` when every output is acknowledged, `statsDone` when its stats are applied. */
export interface ChunkRun {
  done: Promise<void>;
  statsDone: Promise<void>;
}

type EnrichedChunk = {
  records: OutRecord[];
  /** Input offset of each enriched record, for the late-records topic. */
  recordOffsets: string[];
  observations: StatsObservation[];
  poisoned: RejectedRecord[];
};

/** Loads the writer schemas of a batch's Confluent-framed values, so that decoding stays synchronous. */
export async function prefetchSchemas(rt: ProcessorRuntime, ctx: BatchContext): Promise<void> {
  const ids = ctx.batch.records
    .map((r) => rt.deps.codec.avro.schemaIdOf(r.value))
    .filter((id): id is number => id !== null);
  if (ids.length > 0) await ctx.retry('schema-registry', () => rt.deps.registry.prefetch(ids));
}

/**
 * The documents of one partition batch (design §1): decode + validate, then per micro-batch of
 * batching.maxBatchSize records
 *
 *   bad records ─▶ DLQ
 *   documents ─▶ Enricher.enrich ─▶ story ids (registry) ─▶ finsentry.enriched ∥ prediction index ∥
 *   StatsSink.apply (in offset order)
 *
 * When and what is committed is the partition worker's business (src/pipeline/partition-worker.ts).
 */
export class ChunkFlow {
  private readonly fetchedAt = performance.now();

  constructor(
    private readonly rt: ProcessorRuntime,
    private readonly ctx: BatchContext,
    private readonly kind: DocumentKind,
  ) {}

  /** Decodes and validates the batch's records and cuts them into micro-batches. */
  async decode(): Promise<DecodedItem[][]> {
    const { rt, ctx, kind } = this;
    const { batch } = ctx;
    await prefetchSchemas(rt, ctx);
    const decodeStart = performance.now();
    const items: DecodedItem[] = await withStageSpan(
      'decode',
      batch.records.map((r) => r.headers),
      () => batch.records.map((record) => ({ record, result: rt.deps.codec.document(record, kind) })),
      {
        attributes: {
          'messaging.destination.name': batch.topic,
          'messaging.kafka.partition': batch.partition,
        },
      },
    );
    rt.observer.observeStage('decode', (performance.now() - decodeStart) / 1000);
    const size = rt.options.batching.maxBatchSize;
    const chunks: DecodedItem[][] = [];
    for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
    return chunks;
  }

  /**
   * Starts one micro-batch. Its stats are applied only after `previousStats` (the chunk before it), so
   * that the store sees a partition's observations in offset order (it skips those at or below its
   * stored offset).
   */
  run(chunk: DecodedItem[], previousStats: Promise<void>): ChunkRun {
    const docs: InputDocument[] = [];
    const docRecords: RawRecord[] = [];
    const rejected: RejectedRecord[] = [];
    for (const item of chunk) {
      if (item.result.ok) {
        docs.push(item.result.value);
        docRecords.push(item.record);
      } else {
        rejected.push({ record: item.record, rejection: item.result.rejection });
      }
    }
    const deadLettered =
      rejected.length === 0 ? Promise.resolve() : sendDeadLetters(this.rt, this.ctx, rejected);
    const enriched = this.enrich(docs, docRecords);
    const remembered = enriched.then(({ observations }) => this.remember(observations));
    const poisonDeadLettered = enriched.then(({ poisoned }) =>
      poisoned.length > 0 ? sendDeadLetters(this.rt, this.ctx, poisoned) : undefined,
    );
    const produced = enriched.then(({ records }) => this.produce(docs, records));
    const statsDone = Promise.all([enriched, previousStats]).then(([enrichedChunk]) =>
      this.applyStats(docs, chunk[chunk.length - 1]!.record, enrichedChunk),
    );
    // Every branch settles before the chunk does: none may still retry (and pause) after the batch returned.
    const done = allSettledOrThrow([
      deadLettered,
      produced,
      statsDone,
      poisonDeadLettered,
      remembered,
      enriched,
    ]).then(([, , , , , { records }]) => {
      this.rt.counters.enriched += records.length;
      this.rt.observer.documentsProcessed(this.kind, records.length);
    });
    // Each branch is awaited through `done` (or by the next chunk); these no-op handlers only keep a
    // branch that fails before anyone awaits it from being reported as an unhandled rejection.
    for (const p of [deadLettered, enriched, produced, statsDone, poisonDeadLettered, remembered, done])
      p.catch(() => {});
    return { done, statsDone };
  }

  /** Enriches the documents and builds their outputs; documents found poison come back as `poisoned`. */
  private async enrich(docs: InputDocument[], docRecords: RawRecord[]): Promise<EnrichedChunk> {
    const { rt } = this;
    const result: EnrichedChunk = { records: [], recordOffsets: [], observations: [], poisoned: [] };
    if (docs.length === 0) return result;
    const stageSpans: Span[] = [];
    const outcomes = await enrichChunk(rt, this.ctx, docs, stageSpans);
    const nowMs = rt.clock();
    const latencyMs = performance.now() - this.fetchedAt;
    const kept: Array<{ doc: InputDocument; outcome: Enrichment; observation: StatsObservation | null }> = [];
    docs.forEach((doc, i) => {
      const outcome = outcomes[i]!;
      if (isRejection(outcome)) {
        result.poisoned.push({ record: docRecords[i]!, rejection: outcome });
        return;
      }
      const built = rt.deps.buildObservation?.(doc, outcome) ?? null;
      kept.push({ doc, outcome, observation: built ? { ...built, offset: doc.position.offset } : null });
    });
    const observations = await this.sharedStoryIds(kept.flatMap((k) => k.observation ?? []));
    let next = 0;
    for (const { doc, outcome, observation: built } of kept) {
      const observation = built ? observations[next++]! : null;
      if (observation) result.observations.push(observation);
      rt.observer.eventTimeLag(Math.max(0, (nowMs - doc.eventTimeMs) / 1000));
      result.records.push(
        enrichedRecord(rt.options, doc, withPersonsPseudonymised(outcome, rt.deps.personPseudonym), {
          observation,
          stageSpans,
          latencyMs,
          nowMs,
        }),
      );
      result.recordOffsets.push(doc.position.offset);
    }
    return result;
  }

  /** The observations with the story ids all replicas share, when a registry is configured. */
  private async sharedStoryIds(observations: StatsObservation[]): Promise<StatsObservation[]> {
    const registry = this.rt.deps.stories;
    if (!registry || observations.length === 0) return observations;
    return this.ctx.retry('stories', () => withRegistryStoryIds(observations, registry));
  }

  /** Remembers the predictions for the label join (src/pipeline/label-join.ts). */
  private async remember(observations: StatsObservation[]): Promise<void> {
    const index = this.rt.deps.predictions;
    if (index && observations.length > 0)
      await this.ctx.retry('predictions', () => index.remember(observations));
  }

  private async produce(docs: InputDocument[], records: OutRecord[]): Promise<void> {
    if (records.length === 0) return;
    const { rt, ctx } = this;
    const topic = rt.options.topics.enriched;
    await ctx.retry('produce', () =>
      withStageSpan(
        'produce',
        docs.map((d) => d.headers),
        async () => {
          const start = performance.now();
          await ctx.out.send([{ topic, records }]);
          rt.observer.observeStage('produce', (performance.now() - start) / 1000);
        },
      ),
    );
    rt.observer.produced(topic, records.length);
  }

  private async applyStats(docs: InputDocument[], last: RawRecord, enriched: EnrichedChunk): Promise<void> {
    const { rt, ctx } = this;
    const { observations } = enriched;
    const sink = rt.deps.stats;
    if (!sink || observations.length === 0) return;
    const guard = rt.stateGuard;
    const statsBatch: StatsBatch = {
      partitionKey: `${ctx.batch.topic}:${ctx.batch.partition}`,
      lastOffset: last.offset,
      observations,
      labels: [],
      ...(guard ? { lastFingerprint: recordFingerprint(last), expectState: true } : {}),
    };
    // The state vanished since the batch was checked (evicted, deleted): reconcile, then apply again.
    const applyGuarded = async (): Promise<StatsApplyResult[]> => {
      const results = await sink.apply([statsBatch]);
      if (!guard || !results[0]?.stateMissing) return results;
      await guard.check(ctx.batch);
      const again = await sink.apply([statsBatch]);
      if (again[0]?.stateMissing) throw new Error('window-store partition state missing after reconciling');
      return again;
    };
    const [result] = await ctx.retry('stats', () =>
      withStageSpan(
        'stats',
        docs.map((d) => d.headers),
        async () => {
          const start = performance.now();
          const results = await applyGuarded();
          const seconds = (performance.now() - start) / 1000;
          rt.observer.observeStage('stats', seconds);
          rt.observer.redisLatency('apply', seconds);
          return results;
        },
      ),
    );
    if (result) {
      if (result.late > 0) rt.observer.lateEvents(result.late);
      if (result.future) rt.observer.lateEvents(result.future, 'future');
      for (const [dimension, n] of Object.entries(result.folded ?? {}))
        rt.observer.groupsFolded?.(dimension, n);
      rt.observer.watermark(result.watermarkMs);
      await this.sendLateRecords(result, enriched);
    }
  }

  /** Refused observations' enriched records to the late topic, before the commit (docs/guarantees.md#event-time). */
  private async sendLateRecords(result: StatsApplyResult, enriched: EnrichedChunk): Promise<void> {
    const { rt, ctx } = this;
    const topic = rt.options.topics.late;
    const late = lateRecords(
      result.refused ?? [],
      enriched.records.map((record, i) => ({ record, offset: enriched.recordOffsets[i]! })),
      { topic: ctx.batch.topic, partition: ctx.batch.partition, eventClockMs: result.watermarkMs },
    );
    if (!topic || late.length === 0) return;
    await ctx.retry('late-produce', () => ctx.out.send([{ topic, records: late }]));
    rt.observer.produced(topic, late.length);
  }
}
