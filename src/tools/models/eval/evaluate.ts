import type { NerModel, SentimentModel } from '../../../inference/engine.js';
import {
  detokenize,
  tagsFromEntities,
  type ConllSentence,
  type SentimentExample,
  type SpanExample,
} from './datasets.js';
import {
  classificationReport,
  keyedSpanReport,
  spanReport,
  type ClassificationReport,
  type SpanReport,
} from './metrics.js';

const CHUNK = 256;

export async function evaluateSentiment(
  model: SentimentModel,
  examples: readonly SentimentExample[],
): Promise<ClassificationReport> {
  const predictions: string[] = [];
  for (let i = 0; i < examples.length; i += CHUNK) {
    const results = await model.predict(examples.slice(i, i + CHUNK).map((e) => e.text));
    predictions.push(...results.map((r) => r.label));
  }
  return classificationReport(
    examples.map((e) => e.label),
    predictions,
    ['negative', 'neutral', 'positive'],
  );
}

export async function evaluateNer(model: NerModel, sentences: readonly ConllSentence[]): Promise<SpanReport> {
  const predicted: string[][] = [];
  for (let i = 0; i < sentences.length; i += CHUNK) {
    const batch = sentences.slice(i, i + CHUNK).map((s) => detokenize(s.tokens));
    const entities = await model.predictRaw(batch.map((b) => b.text));
    batch.forEach((b, k) => predicted.push(tagsFromEntities(b.spans, entities[k] ?? [])));
  }
  return spanReport(
    sentences.map((s) => s.tags),
    predicted,
  );
}

/**
 * Exact-match span P/R/F1 on character offsets, for text without word boundaries (Chinese): an
 * entity counts when its type, start and end all equal a gold entity's.
 */
export async function evaluateSpans(model: NerModel, examples: readonly SpanExample[]): Promise<SpanReport> {
  const key = (i: number, e: { type: string; start: number; end: number }) => `${i}\u0000${e.start}\u0000${e.end}\u0000${e.type}`;
  const gold = new Map<string, string>();
  const predicted = new Map<string, string>();
  examples.forEach((x, i) => x.entities.forEach((e) => gold.set(key(i, e), e.type)));
  for (let i = 0; i < examples.length; i += CHUNK) {
    const entities = await model.predictRaw(examples.slice(i, i + CHUNK).map((x) => x.text));
    entities.forEach((found, k) => found.forEach((e) => predicted.set(key(i + k, e), e.type)));
  }
  return keyedSpanReport(gold, predicted);
}
