/**
 * Temperature scaling of a sentiment model, fitted on dev data (issue #19 item 3, issue #15 item 5):
 * runs the engine once, then minimises the negative log-likelihood over T by golden-section search on
 * the stored logits. Also measures how well the calibrated confidences estimate accuracy
 * (confidence-based performance estimation): per chunk of the chunked set, T is refitted without
 * that chunk, so each chunk's estimate is made on data the fit did not see.
 */
import type { SentimentModel } from '../../inference/engine.js';
import type { TemperatureCalibration } from '../../inference/calibration.js';
import type { SentimentResult } from '../../domain/enrichment.js';
import { DEFAULT_ECE_BINS, expectedCalibrationError, goldenSectionMinimize } from '../../stats/calibration.js';
import { emptyHistogram, histogramBin } from '../../stats/histograms.js';
import { estimatedAccuracyFromHistogram } from '../../stats/performance.js';
import type { SentimentExample } from './eval/datasets.js';

const CHUNK = 256;
const T_RANGE: [number, number] = [0.05, 10];

type Output = Awaited<ReturnType<SentimentModel['runner']['infer']>>[number];

export interface LabelledLogits {
  output: Output;
  label: SentimentExample['label'];
}

export interface ChunkEstimate {
  n: number;
  temperature: number;
  estimatedAccuracy: number;
  /** The same estimate as the service makes it: from the window's 20-bin confidence histogram. */
  histogramEstimatedAccuracy: number;
  realisedAccuracy: number;
  error: number;
  histogramError: number;
}

export interface CalibrationReport extends TemperatureCalibration {
  n: number;
  nllBefore: number;
  nllAfter: number;
  estimator: {
    data: string;
    chunks: ChunkEstimate[];
    maxAbsError: number;
    meanAbsError: number;
    histogramMaxAbsError: number;
  };
}

export async function collectLogits(
  model: SentimentModel,
  examples: readonly SentimentExample[],
): Promise<LabelledLogits[]> {
  const out: LabelledLogits[] = [];
  for (let i = 0; i < examples.length; i += CHUNK) {
    const batch = examples.slice(i, i + CHUNK);
    const outputs = await model.runner.infer(batch.map((e) => e.text));
    outputs.forEach((output, k) => out.push({ output, label: (batch[k] as SentimentExample).label }));
  }
  return out;
}

/**
 * The window logits of the dev sets as training/calibrate_sentiment.py reads them: per document its
 * set, kind (PhraseBank and its Chinese renderings = news, Twitter and its renderings = chat), gold
 * label, the head's id2label and each window's logits with its real-token weight.
 */
export function dumpedLogits(
  runner: SentimentModel['runner'],
  sets: ReadonlyArray<{ name: string; data: readonly LabelledLogits[] }>,
): unknown[] {
  const head = runner.headIndex('sentiment');
  const id2label = runner.spec.heads[head]!.id2label;
  return sets.flatMap((set) =>
    set.data.map((d) => ({
      set: set.name,
      kind: set.name.includes('twitter') ? 'chat' : 'news',
      label: d.label,
      id2label,
      windows: d.output.doc.windows.map((w, k) => ({
        w: w.realTokens,
        l: Array.from(d.output.logits[k]![head]!),
      })),
    })),
  );
}

const at = (model: SentimentModel, data: readonly LabelledLogits[], t: number): SentimentResult[] =>
  data.map((d) => model.fromLogits(d.output, t));

function nll(model: SentimentModel, data: readonly LabelledLogits[], t: number): number {
  const results = at(model, data, t);
  const sum = results.reduce((s, r, i) => s - Math.log(Math.max(r.probabilities[data[i]!.label], 1e-12)), 0);
  return sum / Math.max(1, data.length);
}

function ece(model: SentimentModel, data: readonly LabelledLogits[], t: number): number {
  const results = at(model, data, t);
  return expectedCalibrationError(
    results.map((r) => r.confidence),
    results.map((r, i) => r.label === data[i]!.label),
    DEFAULT_ECE_BINS,
  );
}

export function fitTemperature(model: SentimentModel, data: readonly LabelledLogits[]): number {
  return goldenSectionMinimize((t) => nll(model, data, t), T_RANGE[0], T_RANGE[1]);
}

/** Chunks of about `size` (the remainder spread over them), in file order. */
function chunked<T>(items: readonly T[], size: number): T[][] {
  const k = Math.max(1, Math.floor(items.length / size));
  return Array.from({ length: k }, (_, c) =>
    items.slice(Math.round((c * items.length) / k), Math.round(((c + 1) * items.length) / k)),
  );
}

function chunkEstimates(
  model: SentimentModel,
  others: readonly LabelledLogits[],
  chunkedSet: readonly LabelledLogits[],
  size: number,
): ChunkEstimate[] {
  const chunks = chunked(chunkedSet, size);
  return chunks.map((chunk, c) => {
    const t = fitTemperature(model, [...others, ...chunks.filter((_, j) => j !== c).flat()]);
    const results = at(model, chunk, t);
    const estimatedAccuracy = results.reduce((s, r) => s + r.confidence, 0) / chunk.length;
    const realisedAccuracy = results.filter((r, i) => r.label === chunk[i]!.label).length / chunk.length;
    const histogram = emptyHistogram('confidence');
    for (const r of results) histogram[histogramBin('confidence', r.confidence)]! += 1;
    const histogramEstimatedAccuracy = estimatedAccuracyFromHistogram(histogram) ?? 0;
    return {
      n: chunk.length,
      temperature: t,
      estimatedAccuracy,
      histogramEstimatedAccuracy,
      realisedAccuracy,
      error: estimatedAccuracy - realisedAccuracy,
      histogramError: histogramEstimatedAccuracy - realisedAccuracy,
    };
  });
}

export interface CalibrationCheck {
  n: number;
  ece: number;
  nll: number;
  accuracy: number;
  meanConfidence: number;
}

/** The model's own calibration.json as the engine applies it, measured on labelled logits. */
export function evaluateCalibration(model: SentimentModel, data: readonly LabelledLogits[]): CalibrationCheck {
  const results = data.map((d) => model.fromLogits(d.output));
  const correct = results.map((r, i) => r.label === data[i]!.label);
  const n = Math.max(1, data.length);
  return {
    n: data.length,
    ece: expectedCalibrationError(
      results.map((r) => r.confidence),
      correct,
      DEFAULT_ECE_BINS,
    ),
    nll: results.reduce((s, r, i) => s - Math.log(Math.max(r.probabilities[data[i]!.label], 1e-12)), 0) / n,
    accuracy: correct.filter(Boolean).length / n,
    meanConfidence: results.reduce((s, r) => s + r.confidence, 0) / n,
  };
}

export interface CalibrationInput {
  /** Named dev sets; the last one is also chunked for the estimator's error. */
  sets: Array<{ name: string; data: LabelledLogits[] }>;
  chunkSize: number;
}

export function calibrate(model: SentimentModel, input: CalibrationInput): CalibrationReport {
  const all = input.sets.flatMap((s) => s.data);
  const temperature = fitTemperature(model, all);
  const chunkedSet = input.sets[input.sets.length - 1]!;
  const chunks = chunkEstimates(
    model,
    input.sets.slice(0, -1).flatMap((s) => s.data),
    chunkedSet.data,
    input.chunkSize,
  );
  const abs = chunks.map((c) => Math.abs(c.error));
  return {
    method: 'temperature',
    temperature,
    fittedOn: input.sets.map((s) => s.name),
    eceBefore: ece(model, all, 1),
    eceAfter: ece(model, all, temperature),
    bins: DEFAULT_ECE_BINS,
    n: all.length,
    nllBefore: nll(model, all, 1),
    nllAfter: nll(model, all, temperature),
    estimator: {
      data: chunkedSet.name,
      chunks,
      maxAbsError: Math.max(...abs),
      meanAbsError: abs.reduce((s, v) => s + v, 0) / Math.max(1, abs.length),
      histogramMaxAbsError: Math.max(...chunks.map((c) => Math.abs(c.histogramError))),
    },
  };
}
