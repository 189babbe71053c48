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
import {
  ModelLoadError,
  modelInfos,
  readModelSpec,
  type HeadSpec,
  type ModelKind,
  type ModelSpec,
  type ModelTask,
} from './model.js';
import {
  decodeEntities,
  mergeOverlapping,
  toEntitySpan,
  type AggregationStrategy,
  type RawEntity,
} from './ner.js';
import {
  documentTransform,
  logitTransform,
  readCalibration,
  scaleLogits,
  type DocumentTransform,
  type LogitTransform,
} from './calibration.js';
import { readCasePrior, type CasePrior } from './case-prior.js';
import { aggregateSentiment, softmax, toCanonical } from './sentiment.js';
import { ModelSession, type InferenceThread, type SessionOptions } from './session.js';
import {
  DocumentTokenizer,
  type EncodedDocument,
  type TokenWindow,
  type WindowingOptions,
} from './tokenize.js';

/** A document's encoding and, per window, the logits of each head. */
export interface DocumentOutput {
  doc: EncodedDocument;
  logits: WindowOutput[];
}

/** A window queued for the model; `length` (tokens incl. specials) is what the batcher budgets. */
interface WindowJob {
  readonly length: number;
  readonly window: TokenWindow;
}

/**
 * Logits of one window, one array per head of the model (spec.heads order): [classes] for sentiment,
 * [seq, classes] for NER (rows beyond the window are padding). A joint model fills both from one run.
 */
type WindowOutput = readonly Float32Array[];

/** Per batch of a runner; `task` is the model's kind ('joint' for a batch that served both heads). */
export type BatchObserver = (task: ModelKind, stats: BatchStats) => void;

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
  /** Which model answers for which task: one entry per head. */
  readonly infos: ModelInfo[];
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
    this.infos = modelInfos(spec);
    const outputs = spec.heads.map((h) => h.output ?? session.outputName);
    this.batcher = new MicroBatcher<WindowJob, WindowOutput>(
      batching,
      async (jobs) => {
        const results = await session.runOutputs(
          jobs.map((j) => j.window),
          outputs,
        );
        const perHead = results.map(({ data, dims }, h) => {
          const numLabels = spec.heads[h]!.id2label.length;
          if (dims[dims.length - 1] !== numLabels) {
            throw new Error(
              `${spec.onnxPath}: output ${outputs[h]} has ${dims[dims.length - 1]} classes, config.json has ${numLabels}`,
            );
          }
          const rowSize = dims.slice(1).reduce((a, b) => a * b, 1);
          return (b: number) => data.subarray(b * rowSize, (b + 1) * rowSize);
        });
        return jobs.map((_, b) => perHead.map((row) => row(b)));
      },
      onBatch ? (stats) => onBatch(spec.task, stats) : undefined,
    );
  }

  /** The model's identity for one task (throws when it has no head for it). */
  info(task: ModelTask): ModelInfo {
    const info = this.infos.find((i) => i.task === task);
    if (!info) throw new Error(`${this.spec.dir} has no ${task} head`);
    return info;
  }

  /** Index of the task's head in each WindowOutput. */
  headIndex(task: ModelTask): number {
    const index = this.spec.heads.findIndex((h: HeadSpec) => h.task === task);
    if (index < 0)
      throw new ModelLoadError(`${this.spec.dir} is a ${this.spec.task} model: it has no ${task} head`);
    return index;
  }

  static async load(dir: string, task: ModelKind, options: EngineOptions): Promise<ModelRunner> {
    const spec = await readModelSpec(dir, task);
    for (const head of spec.heads) if (head.task === 'ner') validateNerLabels(head.id2label);
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
    const missing = spec.heads.filter(
      (h) => h.output !== undefined && !session.outputNames.includes(h.output),
    );
    if (missing.length > 0) {
      await session.release();
      throw new ModelLoadError(
        `${spec.onnxPath}: config.json names output(s) ${missing.map((h) => h.output).join(', ')} the graph does not have (outputs: ${session.outputNames.join(', ')})`,
      );
    }
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
      { models: runner.infos, provider: session.provider, inputs: session.inputNames },
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
  async infer(texts: readonly string[], encoded?: readonly EncodedDocument[]): Promise<DocumentOutput[]> {
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
  /**
   * Temperature from the model's calibration.json (1 = uncalibrated softmax); a joint model's applies to
   * its sentiment head. With a vector calibration it is the one-parameter fit reported beside it.
   */
  readonly temperature: number;
  /** What calibration.json does to the sentiment head's logits (temperature or vector scaling). */
  readonly calibrate: LogitTransform;
  /** What calibration.json does to the document after the window mean (a top-label map, or nothing). */
  readonly calibrateDocument: DocumentTransform;
  private readonly head: number;
  private readonly numLabels: number;

  constructor(
    readonly runner: ModelRunner,
    labelMap?: Readonly<Record<string, SentimentLabel>>,
  ) {
    this.head = runner.headIndex('sentiment');
    const id2label = runner.spec.heads[this.head]!.id2label;
    this.numLabels = id2label.length;
    this.indexMap = sentimentIndexMap(id2label, labelMap);
    const calibration = readCalibration(runner.spec.dir);
    this.temperature = calibration?.temperature ?? 1;
    this.calibrate = logitTransform(calibration, id2label, runner.spec.dir);
    this.calibrateDocument = documentTransform(calibration);
  }

  get info(): ModelInfo {
    return this.runner.info('sentiment');
  }

  async predict(texts: readonly string[], encoded?: readonly EncodedDocument[]): Promise<SentimentResult[]> {
    const outputs = await this.runner.infer(texts, encoded);
    return outputs.map((output) => this.fromLogits(output));
  }

  /**
   * Document sentiment from its window logits: calibrated as the model's calibration.json says (window
   * logits, then the document's top-label map if any), or at a given temperature alone (the calibration
   * tool varies it; 1 = the plain softmax).
   */
  fromLogits(output: DocumentOutput, temperature?: number): SentimentResult {
    if (temperature !== undefined)
      return this.aggregate(output, (logits) => scaleLogits(logits, temperature));
    return this.calibrateDocument(this.aggregate(output, this.calibrate));
  }

  private aggregate(output: DocumentOutput, transform: LogitTransform): SentimentResult {
    return aggregateSentiment(
      output.doc.windows.map((w, i) => ({
        probabilities: toCanonical(
          softmax(transform(output.logits[i]![this.head]!), 0, this.numLabels),
          this.indexMap,
        ),
        weight: w.realTokens,
      })),
      output.doc,
    );
  }
}

/** Entities of documents with a token-classification model (or a joint model's token head). */
export class NerModel {
  private readonly head: number;
  /** The model directory's case-prior.json (uncased models), used by the `viterbi` aggregation. */
  readonly casePrior: CasePrior | undefined;

  /** `casePrior: false` decodes without the model's case prior (to measure what it adds). */
  constructor(
    readonly runner: ModelRunner,
    readonly aggregation: AggregationStrategy,
    options: { casePrior?: boolean } = {},
  ) {
    this.head = runner.headIndex('ner');
    this.casePrior = options.casePrior === false ? undefined : readCasePrior(runner.spec.dir);
  }

  get info(): ModelInfo {
    return this.runner.info('ner');
  }

  async predictRaw(
    texts: readonly string[],
    aggregation = this.aggregation,
    encoded?: readonly EncodedDocument[],
  ): Promise<RawEntity[][]> {
    return this.rawFromOutputs(texts, await this.runner.infer(texts, encoded), aggregation);
  }

  /** Entities from outputs the runner already computed (a joint model's single pass). */
  rawFromOutputs(
    texts: readonly string[],
    outputs: readonly DocumentOutput[],
    aggregation = this.aggregation,
  ): RawEntity[][] {
    const id2label = this.runner.spec.heads[this.head]!.id2label;
    return outputs.map(({ doc, logits }, i) =>
      decodeEntities(
        texts[i] ?? '',
        doc.windows.map((window, w) => ({ window, data: logits[w]![this.head]!, offset: 0 })),
        id2label,
        this.runner.tokenizer,
        aggregation,
        this.casePrior,
      ),
    );
  }

  async predict(
    texts: readonly string[],
    maxEntities = Infinity,
    encoded?: readonly EncodedDocument[],
  ): Promise<EntitySpan[][]> {
    return this.fromOutputs(texts, await this.runner.infer(texts, encoded), maxEntities);
  }

  /** Entity spans (capped at maxEntities, highest scores kept) from outputs the runner computed. */
  fromOutputs(
    texts: readonly string[],
    outputs: readonly DocumentOutput[],
    maxEntities = Infinity,
  ): EntitySpan[][] {
    return this.rawFromOutputs(texts, outputs).map((entities, i) => {
      const kept =
        entities.length > maxEntities
          ? [...entities].sort((a, b) => b.score - a.score).slice(0, maxEntities)
          : entities;
      return mergeOverlapping(kept).map((e) => toEntitySpan(texts[i] ?? '', e));
    });
  }
}

export type { EnrichRequest };
