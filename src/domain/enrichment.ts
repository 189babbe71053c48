/** Results of inference, attached to each document (design §3, §8). */

export const SENTIMENT_LABELS = ['negative', 'neutral', 'positive'] as const;
export type SentimentLabel = (typeof SENTIMENT_LABELS)[number];

export interface SentimentProbabilities {
  negative: number;
  neutral: number;
  positive: number;
}

export interface SentimentResult {
  label: SentimentLabel;
  probabilities: SentimentProbabilities;
  /** p_pos − p_neg, in [-1, 1]. */
  polarity: number;
  /** max probability. */
  confidence: number;
  /** Number of overlapping token windows the text was split into (1 for short text). */
  windows: number;
  /** True when some of the text could not be covered (window limit reached). */
  truncated: boolean;
  /** Real tokens of the text (all windows, without overlap double-counting and special tokens). */
  tokens: number;
  /** Tokens mapped to the tokenizer's unknown token. */
  unknownTokens: number;
}

export interface EntitySpan {
  /** Entity type without BIO prefix: PER, ORG, LOC, MISC, … */
  type: string;
  /** Exact substring of the original text, text.slice(start, end). */
  text: string;
  /** Case-folded, whitespace-collapsed form used for grouping. */
  normalized: string;
  /** Character offsets (UTF-16 code units, as JavaScript strings index) into the original text. */
  start: number;
  end: number;
  score: number;
}

export interface ModelInfo {
  task: 'sentiment' | 'ner';
  name: string;
  version: string;
  /** sha256 of the ONNX file that was loaded. */
  sha256: string;
}

export interface Enrichment {
  sentiment: SentimentResult;
  entities: EntitySpan[];
  models: ModelInfo[];
}

export interface EnrichRequest {
  id: string;
  text: string;
}

/**
 * The pipeline's view of inference. The product implementation is the ONNX Runtime engine in
 * src/inference; tests of the Kafka plumbing may plug a deterministic implementation.
 */
export interface Enricher {
  readonly models: ModelInfo[];
  /** Enrich a batch; results are in request order. Rejects only on infrastructure failure. */
  enrich(requests: EnrichRequest[]): Promise<Enrichment[]>;
  close(): Promise<void>;
}
