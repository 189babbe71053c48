import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  DEFAULT_NER_AGGREGATION,
  type BatchingConfig,
  type ModelSetConfig,
  type ModelsConfig,
} from '../config/schema.js';
import type {
  Enricher,
  EnrichRequest,
  EntitySpan,
  ModelInfo,
  ScoredEnrichment,
} from '../domain/enrichment.js';
import type { Logger } from '../telemetry/logger.js';
import type { BatcherOptions } from './batcher.js';
import { resolveThreading } from './threads.js';
import { ModelRunner, NerModel, SentimentModel, type BatchObserver, type EngineOptions } from './engine.js';
import { ModelLoadError, readModelSpec } from './model.js';

export interface OnnxEnricherOptions {
  logger?: Logger;
  /** Per-batch statistics (size, padded/real tokens, queue and model time) for metrics. */
  onBatch?: BatchObserver;
  /** Cap on entities per document (limits.maxEntitiesPerDocument); the highest-scoring are kept. */
  maxEntitiesPerDocument?: number;
  /** Tokenize once for both models when their tokenizers are identical (default true; false to compare). */
  shareTokenizer?: boolean;
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
  const threading = resolveThreading({
    executionProvider: models.executionProvider,
    intraOpThreads: models.intraOpThreads,
    interOpThreads: models.interOpThreads,
    spinning: models.intraOpSpinning,
    inferenceWorkers: models.inferenceWorkers,
  });
  return {
    session: {
      executionProvider: models.executionProvider,
      intraOpThreads: threading.intraOpThreads,
      interOpThreads: threading.interOpThreads,
      spinning: threading.spinning,
      graphOptimization: models.graphOptimization,
      allowCpuFallback: models.allowCpuFallback,
      thread: models.inferenceThread,
      workers: models.inferenceThread === 'worker' ? threading.workers : 1,
    },
    windowing: { maxLength: models.maxLength, stride: models.stride, maxWindows: models.maxWindows },
    batching: batcherOptions(batching),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.onBatch ? { onBatch: options.onBatch } : {}),
  };
}

/**
 * The product Enricher: sentiment (always) and NER (when configured) with ONNX Runtime. Two models
 * run concurrently on the same documents; each has its own micro-batcher, so documents from
 * many `enrich` calls share batches (docs/inference.md "Two batching layers": the pipeline's own
 * micro-batches and partition pauses bound what reaches these queues). A joint model (one encoder,
 * a sentence head and a token head) serves both from one tokenization and one ONNX run per window
 * batch (docs/inference.md "Joint models").
 */
export class OnnxEnricher implements Enricher {
  readonly models: ModelInfo[];

  private constructor(
    readonly sentiment: SentimentModel,
    readonly ner: NerModel | undefined,
    private readonly maxEntities: number,
    shareTokenizer: boolean,
  ) {
    this.models = [sentiment.info, ...(ner ? [ner.info] : [])];
    this.joint = ner !== undefined && ner.runner === sentiment.runner;
    this.sharedTokenizer =
      !this.joint &&
      shareTokenizer &&
      ner !== undefined &&
      ner.runner.tokenizerHash === sentiment.runner.tokenizerHash;
  }

  /** True when one joint model answers for both tasks: one tokenization, one run per window batch. */
  readonly joint: boolean;

  /**
   * True when both models have a byte-identical tokenizer.json (the windowing options are the
   * engine's, common to both): each document is then tokenized once for both (docs/inference.md).
   */
  readonly sharedTokenizer: boolean;

  /** Loads and warms up the models; resolves once they are ready to serve. */
  static async create(
    models: ModelsConfig,
    batching: BatchingConfig,
    options: OnnxEnricherOptions = {},
  ): Promise<OnnxEnricher> {
    if (existsSync(join(models.sentiment.path, 'config.json'))) {
      const spec = await readModelSpec(models.sentiment.path);
      if (spec.task === 'joint') return OnnxEnricher.createJoint(spec.dir, models, batching, options);
    }
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
      return new OnnxEnricher(
        sentiment,
        ner,
        options.maxEntitiesPerDocument ?? Infinity,
        options.shareTokenizer ?? true,
      );
    } catch (err) {
      await sentimentRunner.close();
      await nerRunner?.close();
      throw err;
    }
  }

  /**
   * models.sentiment.path is a joint model: it answers for NER too when models.ner is the same
   * directory (or for sentiment alone with models.ner null); another NER model beside it is refused.
   */
  private static async createJoint(
    dir: string,
    models: ModelsConfig,
    batching: BatchingConfig,
    options: OnnxEnricherOptions,
  ): Promise<OnnxEnricher> {
    if (models.ner && resolve(models.ner.path) !== dir)
      throw new ModelLoadError(
        `${dir} is a joint model (sentiment and NER): set models.ner.path to the same directory, or models.ner to null for sentiment only`,
      );
    const set = {
      path: dir,
      aggregation: models.ner?.aggregation ?? DEFAULT_NER_AGGREGATION,
      ner: models.ner !== null,
    };
    return OnnxEnricher.createFromDirectory(
      { ...set, ...(models.sentiment.labelMap ? { labelMap: models.sentiment.labelMap } : {}) },
      models,
      batching,
      options,
    );
  }

  /**
   * One model set's enricher from a directory (`models.sets[]`): a joint model (sentiment and NER
   * heads) or a sentiment model; the engine settings are the `models` section's.
   */
  static async createFromDirectory(
    set: Pick<ModelSetConfig, 'path' | 'labelMap' | 'aggregation'> & { ner: boolean },
    models: ModelsConfig,
    batching: BatchingConfig,
    options: OnnxEnricherOptions = {},
  ): Promise<OnnxEnricher> {
    const engine = engineOptions(models, batching, options);
    const kind = (await readModelSpec(set.path)).task;
    if (kind === 'ner')
      throw new ModelLoadError(`${set.path} is an NER model: a model set needs a joint or sentiment model`);
    const runner = await ModelRunner.load(set.path, kind, engine);
    try {
      const sentiment = new SentimentModel(runner, set.labelMap);
      const ner = kind === 'joint' && set.ner ? new NerModel(runner, set.aggregation) : undefined;
      return new OnnxEnricher(sentiment, ner, options.maxEntitiesPerDocument ?? Infinity, false);
    } catch (err) {
      await runner.close();
      throw err;
    }
  }

  async enrich(requests: EnrichRequest[]): Promise<ScoredEnrichment[]> {
    if (requests.length === 0) return [];
    const texts = requests.map((r) => r.text);
    if (this.joint) return this.enrichJoint(texts);
    const encoded = this.sharedTokenizer ? await this.sentiment.runner.tokenizer.encode(texts) : undefined;
    const [sentiments, entities] = await Promise.all([
      this.sentiment.predict(texts, encoded),
      this.ner
        ? this.ner.predict(texts, this.maxEntities, encoded)
        : Promise.resolve(texts.map((): EntitySpan[] => [])),
    ]);
    return sentiments.map((sentiment, i) => ({
      sentiment,
      entities: entities[i] ?? [],
      models: this.models,
    }));
  }

  /** Both tasks from one pass of the joint model: the same window logits feed both decoders. */
  private async enrichJoint(texts: readonly string[]): Promise<ScoredEnrichment[]> {
    const outputs = await this.sentiment.runner.infer(texts);
    const entities = this.ner?.fromOutputs(texts, outputs, this.maxEntities) ?? [];
    return outputs.map((output, i) => ({
      sentiment: this.sentiment.fromLogits(output),
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
    await Promise.all([this.sentiment.runner.close(), this.joint ? undefined : this.ner?.runner.close()]);
  }
}
