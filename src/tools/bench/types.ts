import type { BatchingConfig, FinsentryConfig, ModelsConfig } from '../../config/schema.js';
import type { ModelSpec } from '../../inference/model.js';
import type { BenchDocument } from './corpus.js';

export const ROW_IDS = ['limit', 'ceiling', 'infer', 'joint', 'pipeline', 'naive', 'peer', 'stats'] as const;
export type RowId = (typeof ROW_IDS)[number];

/** One measured row of the report. Throughputs are medians over `runs` where a row repeats. */
export interface BenchRow {
  id: RowId;
  title: string;
  documents: number;
  /** Median wall-clock seconds of one pass over the documents. */
  seconds: number;
  /** Seconds of every timed repetition. */
  runs: number[];
  docsPerSecond: number;
  /** Process CPU seconds of the median pass (all threads), when the row measures it. */
  cpuSeconds?: number;
  /** Documents per process CPU-second: robust to a busy machine, unlike docs/s. */
  docsPerCpuSecond?: number;
  /** Content tokens of the texts that the row analysed (whole text for finsentry; the truncated head for the peer). */
  textTokensPerSecond: number | null;
  /** Non-padding tokens fed to the models (both models; special tokens and window overlaps included). */
  modelTokensPerSecond: number | null;
  /** What was chosen or fixed (batch size found best, concurrency, …). */
  setting: string;
  details?: Record<string, unknown>;
  /** Set when the row could not run; the other rows are still reported. */
  error?: string;
}

export interface LatencyResult {
  /** Offered load, documents per second (50% of the measured pipeline capacity). */
  ratePerSecond: number;
  documents: number;
  received: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface BenchModels {
  sentiment: ModelSpec;
  ner: ModelSpec | null;
}

/** Everything the rows share: the same texts, the same models and the same thread settings. */
export interface BenchContext {
  config: FinsentryConfig;
  /** Effective models config (paths, execution provider, threads, windowing). */
  models: ModelsConfig;
  batching: BatchingConfig;
  specs: BenchModels;
  /** Joint model directory for the `joint` row (one encoder pass for both tasks), or null: row not run. */
  jointModel: string | null;
  corpus: BenchDocument[];
  texts: string[];
  /** Content tokens per document (sentiment tokenizer, whole text). */
  docTokens: number[];
  quick: boolean;
  reps: number;
  /** Documents used to pick the best batch size (ceiling and peer). */
  searchDocuments: number;
  /** Seconds of paced traffic for the latency measurement. */
  latencySeconds: number;
  statsDocuments: number;
  log: (line: string) => void;
}

export function row(
  id: RowId,
  title: string,
  documents: number,
  runs: number[],
  seconds: number,
  textTokens: number | null,
  modelTokens: number | null,
  setting: string,
  details?: Record<string, unknown>,
  cpuSeconds?: number,
): BenchRow {
  return {
    id,
    title,
    documents,
    seconds,
    runs,
    docsPerSecond: documents / seconds,
    ...(cpuSeconds !== undefined && cpuSeconds > 0
      ? { cpuSeconds, docsPerCpuSecond: documents / cpuSeconds }
      : {}),
    textTokensPerSecond: textTokens === null ? null : textTokens / seconds,
    modelTokensPerSecond: modelTokens === null ? null : modelTokens / seconds,
    setting,
    ...(details ? { details } : {}),
  };
}
