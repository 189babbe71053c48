import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type {
  EnrichRequest,
  EntitySpan,
  ModelInfo,
  SentimentLabel,
  SentimentResult,
} from '../domain/enrichment.js';
import type { Logger } from '../telemetry/logger.js';
import { MicroBatcher, type BatcherOptions, type BatchStats } from './batcher.js';
import { sentimentIndexMap, validateNerLabels } from './label-set.js';
import { modelInfo, readModelSpec, type ModelSpec, type ModelTask } from './model.js';
import {
  decodeEntities,
  mergeOverlapping,
  toEntitySpan,
  type AggregationStrategy,
  type RawEntity,
} from './ner.js';
import { readCalibration, scaleLogits } from './calibration.js';
import { aggregateSentiment, softmax, toCanonical } from './sentiment.js';
import { ModelSession, type InferenceThread, type SessionOptions } from './session.js';
import {
  DocumentTokenizer,
  type EncodedDocument,
  type TokenWindow,
  type WindowingOptions,
} from './tokenize.js';

/** A window queued for the model; `length` (tokens incl. specials) is what the batcher budgets. */
interface WindowJob {
  readonly length: number;
  readonly window: TokenWindow;
}

/** Logits of one window: [classes] for sentiment, [seq, classes] for NER (rows beyond the window are padding). */
type WindowOutput = Float32Array;

export type BatchObserver = (task: ModelTask, stats: BatchStats) => void;

export interface EngineOptions {
  session: SessionOptions & { thread?: InferenceThread; workers?: number };
  windowing: WindowingOptions;
  batching: BatcherOptions;
  logger?: Logger;
  onBatch?: BatchObserver;
}

/**
 * One loaded model: tokenizer, ONNX Runtime session and its micro-batcher. Callers hand it whole
 * documents; windows of all documents are batched together.
 */
export class ModelRunner {
  readonly info: ModelInfo;
  readonly batcher: MicroBatcher<WindowJob, WindowOutput>;

  private constructor(
    readonly spec: ModelSpec,
    readonly tokenizer: DocumentTokenizer,
    /** SHA-256 of tokenizer.json: runners with the same hash (and windowing) can share encodings. */
    readonly tokenizerHash: string,
    readonly session: ModelSession,
    batching: BatcherOptions,
    onBatch?: BatchObserver,
  ) {
    this.info = modelInfo(spec);
    const numLabels = spec.id2label.length;
    this.batcher = new MicroBatcher<WindowJob, WindowOutput>(
      batching,
      async (jobs) => {
        const { data, dims } = await session.run(jobs.map((j) => j.window));
        const rowSize = dims.slice(1).reduce((a, b) => a * b, 1);
        if (dims[dims.length - 1] !== numLabels) {
          throw new Error(
            `${spec.onnxPath}: model returned ${dims[dims.length - 1]} classes, config.json has ${numLabels}`,
          );
        }
        return jobs.map((_, b) => data.subarray(b * rowSize, (b + 1) * rowSize));
      },
      onBatch ? (stats) => onBatch(spec.task, stats) : undefined,
    );
  }

  static async load(dir: string, task: ModelTask, options: EngineOptions): Promise<ModelRunner> {
    const spec = await readModelSpec(dir, task);
    if (task === 'ner') validateNerLabels(spec.id2label);
    if (spec.maxPositions !== undefined && options.windowing.maxLength > spec.maxPositions) {
      throw new Error(
        `models.maxLength ${options.windowing.maxLength} exceeds ${spec.dir}'s max_position_embeddings ${spec.maxPositions}`,
      );
    }
    if (options.batching.maxBatchTokens < options.windowing.maxLength) {
      throw new Error(
        `batching.maxBatchTokens (${options.batching.maxBatchTokens}) must be at least models.maxLength (${options.windowing.maxLength})`,
      );
    }
    const tokenizer = DocumentTokenizer.fromFile(spec.tokenizerPath, options.windowing);
    const tokenizerHash = createHash('sha256').update(readFileSync(spec.tokenizerPath)).digest('hex');
    const session = await ModelSession.create(
      spec.onnxPath,
      options.session,
      spec.padTokenId,
      options.logger,
    );
    const runner = new ModelRunner(
      spec,
      tokenizer,
      tokenizerHash,
      session,
      options.batching,
      options.onBatch,
    );
    await runner.warmUp();
    options.logger?.info(
      { model: runner.info, provider: session.provider, inputs: session.inputNames },
      'model loaded',
    );
    return runner;
  }

  /** One inference at full window length so that ORT has allocated and optimised before readiness. */
  private async warmUp(): Promise<void> {
    const [doc] = await this.tokenizer.encode(['warm up '.repeat(this.tokenizer.options.maxLength)]);
    const window = doc?.windows[0];
    if (window) await this.session.run([window]);
  }

  /**
   * Tokenizes the texts (unless given their encodings, from a runner with the same tokenizer) and
   * returns, per document, its encoding and the logits of each window.
   */
  async infer(
    texts: readonly string[],
    encoded?: readonly EncodedDocument[],
  ): Promise<Array<{ doc: EncodedDocument; logits: WindowOutput[] }>> {
    const docs = encoded ?? (await this.tokenizer.encode([...texts]));
    return Promise.all(
      docs.map(async (doc) => ({
        doc,
        logits: await Promise.all(
          doc.windows.map((window) => this.batcher.submit({ length: window.ids.length, window })),
        ),
      })),
    );
  }

  async close(): Promise<void> {
    await this.batcher.close();
    await this.session.release();
  }
}

/** Sentiment of documents with a sequence-classification model. */
export class SentimentModel {
  private readonly indexMap: SentimentLabel[];
  /** Temperature from the model's calibration.json (1 = uncalibrated softmax). */
  readonly temperature: number;

  constructor(
    readonly runner: ModelRunner,
    labelMap?: Readonly<Record<string, SentimentLabel>>,
  ) {
    this.indexMap = sentimentIndexMap(runner.spec.id2label, labelMap);
    this.temperature = readCalibration(runner.spec.dir)?.temperature ?? 1;
  }

  async predict(texts: readonly string[], encoded?: readonly EncodedDocument[]): Promise<SentimentResult[]> {
    const outputs = await this.runner.infer(texts, encoded);
    return outputs.map((output) => this.fromLogits(output, this.temperature));
  }

  /** Document sentiment from its window logits at a given temperature (the calibration tool varies it). */
  fromLogits(output: { doc: EncodedDocument; logits: WindowOutput[] }, temperature: number): SentimentResult {
    const numLabels = this.runner.spec.id2label.length;
    return aggregateSentiment(
      output.doc.windows.map((w, i) => ({
        probabilities: toCanonical(
          softmax(scaleLogits(output.logits[i] as Float32Array, temperature), 0, numLabels),
          this.indexMap,
        ),
        weight: w.realTokens,
      })),
      output.doc,
    );
  }
}

/** Entities of documents with a token-classification model. */
export class NerModel {
  constructor(
    readonly runner: ModelRunner,
    readonly aggregation: AggregationStrategy,
  ) {}

  async predictRaw(
    texts: readonly string[],
    aggregation = this.aggregation,
    encoded?: readonly EncodedDocument[],
  ): Promise<RawEntity[][]> {
    const outputs = await this.runner.infer(texts, encoded);
    return outputs.map(({ doc, logits }, i) =>
      decodeEntities(
        texts[i] ?? '',
        doc.windows.map((window, w) => ({ window, data: logits[w] as Float32Array, offset: 0 })),
        this.runner.spec.id2label,
        this.runner.tokenizer,
        aggregation,
      ),
    );
  }

  async predict(
    texts: readonly string[],
    maxEntities = Infinity,
    encoded?: readonly EncodedDocument[],
  ): Promise<EntitySpan[][]> {
    const raw = await this.predictRaw(texts, this.aggregation, encoded);
    return raw.map((entities, i) => {
      const kept =
        entities.length > maxEntities
          ? [...entities].sort((a, b) => b.score - a.score).slice(0, maxEntities)
          : entities;
      return mergeOverlapping(kept).map((e) => toEntitySpan(texts[i] ?? '', e));
    });
  }
}

export type { EnrichRequest };
