import type { BatchingConfig, ModelsConfig } from '../config/schema.js';
import type {
  Enricher,
  EnrichRequest,
  EntitySpan,
  ModelInfo,
  ScoredEnrichment,
} from '../domain/enrichment.js';
import type { Logger } from '../telemetry/logger.js';
import type { BatcherOptions } from './batcher.js';
import { ModelRunner, NerModel, SentimentModel, type BatchObserver, type EngineOptions } from './engine.js';

export interface OnnxEnricherOptions {
  logger?: Logger;
  /** Per-batch statistics (size, padded/real tokens, queue and model time) for metrics. */
  onBatch?: BatchObserver;
  /** Cap on entities per document (limits.maxEntitiesPerDocument); the highest-scoring are kept. */
  maxEntitiesPerDocument?: number;
}

export function batcherOptions(batching: BatchingConfig): BatcherOptions {
  return {
    maxBatchSize: batching.maxBatchSize,
    maxBatchTokens: batching.maxBatchTokens,
    maxWaitMs: batching.maxWait,
    maxInFlightBatches: batching.maxInFlightBatches,
    maxQueued: batching.maxQueuedDocuments,
    maxPaddingRatio: batching.maxPaddingRatio,
  };
}

export function engineOptions(
  models: ModelsConfig,
  batching: BatchingConfig,
  options: OnnxEnricherOptions = {},
): EngineOptions {
  return {
    session: {
      executionProvider: models.executionProvider,
      intraOpThreads: models.intraOpThreads,
      interOpThreads: models.interOpThreads,
      graphOptimization: models.graphOptimization,
      thread: models.inferenceThread,
    },
    windowing: { maxLength: models.maxLength, stride: models.stride, maxWindows: models.maxWindows },
    batching: batcherOptions(batching),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.onBatch ? { onBatch: options.onBatch } : {}),
  };
}

/**
 * The product Enricher: sentiment (always) and NER (when configured) with ONNX Runtime. Both
 * models run concurrently on the same documents; each has its own micro-batcher, so documents from
 * many `enrich` calls share batches (docs/inference.md "Two batching layers": the pipeline's own
 * micro-batches and partition pauses bound what reaches these queues).
 */
export class OnnxEnricher implements Enricher {
  readonly models: ModelInfo[];

  private constructor(
    readonly sentiment: SentimentModel,
    readonly ner: NerModel | undefined,
    private readonly maxEntities: number,
  ) {
    this.models = [sentiment.runner.info, ...(ner ? [ner.runner.info] : [])];
  }

  /** Loads and warms up the models; resolves once they are ready to serve. */
  static async create(
    models: ModelsConfig,
    batching: BatchingConfig,
    options: OnnxEnricherOptions = {},
  ): Promise<OnnxEnricher> {
    const engine = engineOptions(models, batching, options);
    const [sentimentLoad, nerLoad] = await Promise.allSettled([
      ModelRunner.load(models.sentiment.path, 'sentiment', engine),
      models.ner ? ModelRunner.load(models.ner.path, 'ner', engine) : Promise.resolve(undefined),
    ]);
    if (sentimentLoad.status === 'rejected' || nerLoad.status === 'rejected') {
      // release whichever model did load before reporting the failure
      if (sentimentLoad.status === 'fulfilled') await sentimentLoad.value.close();
      if (nerLoad.status === 'fulfilled') await nerLoad.value?.close();
      throw sentimentLoad.status === 'rejected'
        ? sentimentLoad.reason
        : (nerLoad as PromiseRejectedResult).reason;
    }
    const sentimentRunner = sentimentLoad.value;
    const nerRunner = nerLoad.value;
    try {
      const sentiment = new SentimentModel(sentimentRunner, models.sentiment.labelMap);
      const ner = nerRunner && models.ner ? new NerModel(nerRunner, models.ner.aggregation) : undefined;
      return new OnnxEnricher(sentiment, ner, options.maxEntitiesPerDocument ?? Infinity);
    } catch (err) {
      await sentimentRunner.close();
      await nerRunner?.close();
      throw err;
    }
  }

  async enrich(requests: EnrichRequest[]): Promise<ScoredEnrichment[]> {
    if (requests.length === 0) return [];
    const texts = requests.map((r) => r.text);
    const [sentiments, entities] = await Promise.all([
      this.sentiment.predict(texts),
      this.ner
        ? this.ner.predict(texts, this.maxEntities)
        : Promise.resolve(texts.map((): EntitySpan[] => [])),
    ]);
    return sentiments.map((sentiment, i) => ({
      sentiment,
      entities: entities[i] ?? [],
      models: this.models,
    }));
  }

  /** Execution provider actually in use per model (cuda may have fallen back to cpu). */
  get providers(): Record<string, string> {
    return {
      sentiment: this.sentiment.runner.session.provider,
      ...(this.ner ? { ner: this.ner.runner.session.provider } : {}),
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.sentiment.runner.close(), this.ner?.runner.close()]);
  }
}
