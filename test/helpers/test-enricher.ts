// A deterministic stand-in for the ONNX enricher, for tests of the Kafka plumbing only (issue #2 allows
// it; the product path is src/inference's OnnxEnricher). Sentiment comes from keyword counts, entity
// spans from a fixed "<Name> Corp|Inc|Bank" pattern, so expected outputs can be computed in the test.
import type {
  EnrichRequest,
  Enricher,
  Enrichment,
  ModelInfo,
  SentimentLabel,
} from '../../src/domain/enrichment.js';

const NEGATIVE = [
  'plunge',
  'plunges',
  'loss',
  'losses',
  'fraud',
  'downgrade',
  'miss',
  'misses',
  'default',
  'lawsuit',
  'slump',
];
const POSITIVE = ['surge', 'surges', 'beat', 'beats', 'upgrade', 'record', 'growth', 'profit', 'rally'];

export function expectedLabel(text: string): SentimentLabel {
  const words = text.toLowerCase().split(/[^a-z]+/);
  const neg = words.filter((w) => NEGATIVE.includes(w)).length;
  const pos = words.filter((w) => POSITIVE.includes(w)).length;
  return neg > pos ? 'negative' : pos > neg ? 'positive' : 'neutral';
}

export const TEST_MODELS: ModelInfo[] = [
  { task: 'sentiment', name: 'test-keyword-sentiment', version: '1', sha256: '0'.repeat(64) },
  { task: 'ner', name: 'test-pattern-ner', version: '1', sha256: '1'.repeat(64) },
];

export function testEnrichment(text: string): Enrichment {
  const label = expectedLabel(text);
  const probabilities =
    label === 'negative'
      ? { negative: 0.8, neutral: 0.15, positive: 0.05 }
      : label === 'positive'
        ? { negative: 0.05, neutral: 0.15, positive: 0.8 }
        : { negative: 0.1, neutral: 0.8, positive: 0.1 };
  const entities = [...text.matchAll(/\b[A-Z][a-z]+ (?:Corp|Inc|Bank)\b/g)].map((m) => ({
    type: 'ORG',
    text: m[0],
    normalized: m[0].toLowerCase(),
    start: m.index,
    end: m.index + m[0].length,
    score: 0.99,
  }));
  const tokens = text.split(/\s+/).filter(Boolean).length;
  return {
    sentiment: {
      label,
      probabilities,
      polarity: probabilities.positive - probabilities.negative,
      confidence: Math.max(probabilities.negative, probabilities.neutral, probabilities.positive),
      windows: 1,
      truncated: false,
      tokens,
      unknownTokens: 0,
    },
    entities,
    models: TEST_MODELS,
  };
}

/** A document whose text contains this always makes `enrich` reject (a poison document). */
export const POISON_MARKER = 'POISON-PILL';

export class TestEnricher implements Enricher {
  readonly models = TEST_MODELS;
  calls = 0;
  documents = 0;
  private failures = 0;

  /** `delayMs` per enrich call stands in for model time, so that tests can act while a stream is in flight. */
  constructor(private readonly delayMs = 0) {}

  /** The next `n` enrich calls reject, as an unavailable inference backend would. */
  failNext(n: number): void {
    this.failures = n;
  }

  async enrich(requests: EnrichRequest[]): Promise<Enrichment[]> {
    this.calls++;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('test enricher: injected inference failure');
    }
    if (requests.some((r) => r.text.includes(POISON_MARKER)))
      throw new Error('test enricher: cannot process this document');
    this.documents += requests.length;
    await new Promise((resolve) =>
      this.delayMs > 0 ? setTimeout(resolve, this.delayMs) : setImmediate(resolve),
    );
    return requests.map((r) => testEnrichment(r.text));
  }

  async close(): Promise<void> {}
}
