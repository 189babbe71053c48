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

/** Why a document was enriched without a sentiment (design §3: never score a language no model reads). */
export type UnscoredReason = 'unsupported-language';

/** The language a document was routed by: the producer's tag, or a detection when the tag was unusable or contradicted. */
export interface DocumentLanguage {
  /** Primary language subtag ("en", "zh") or "und". */
  language: string;
  source: 'producer' | 'detected' | 'undetermined';
}

/** A document the models scored. */
export interface ScoredEnrichment {
  sentiment: SentimentResult;
  entities: EntitySpan[];
  models: ModelInfo[];
  /** Set when language routing ran (models.languages configured). */
  language?: DocumentLanguage;
  unscored?: undefined;
}

/** A document no configured model can read: enriched with its language and the reason, never a sentiment. */
export interface UnscoredEnrichment {
  sentiment?: undefined;
  entities: EntitySpan[];
  models: ModelInfo[];
  language: DocumentLanguage;
  unscored: UnscoredReason;
}

export type Enrichment = ScoredEnrichment | UnscoredEnrichment;

export interface EnrichRequest {
  id: string;
  text: string;
  /** The producer's language tag, when the input carries one. */
  language?: string;
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
