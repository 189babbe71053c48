import type { NerModel, SentimentModel } from '../../../inference/engine.js';
import { detokenize, tagsFromEntities, type ConllSentence, type SentimentExample } from './datasets.js';
import { classificationReport, spanReport, type ClassificationReport, type SpanReport } from './metrics.js';

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
