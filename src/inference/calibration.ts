import { join } from 'node:path';
import { ModelLoadError, readOptionalModelJson } from './model.js';
import type { SentimentLabel, SentimentProbabilities, SentimentResult } from '../domain/enrichment.js';

/** File a sentiment model directory may carry; written by `finsentry models calibrate`. */
export const CALIBRATION_FILE = 'calibration.json';

/** Temperature scaling (Guo et al. 2017): probabilities = softmax(logits / temperature). */
export interface TemperatureCalibration {
  method: 'temperature';
  temperature: number;
  fittedOn: string[];
  eceBefore: number;
  eceAfter: number;
  bins: number;
}

/**
 * Vector scaling (Guo et al. 2017): probabilities = softmax(logits · scale + bias), one scale and bias
 * per class in the model's id2label order (`labels`, checked at load). Fitted by
 * training/calibrate_sentiment.py, which no longer chooses it: unlike a temperature it can change an
 * arg-max label. `temperature` is the one-parameter fit on the same data, reported beside it and not applied.
 */
export interface VectorCalibration extends Omit<TemperatureCalibration, 'method'> {
  method: 'vector';
  labels: string[];
  scale: number[];
  bias: number[];
}

/** Knots of a monotone piecewise-linear map: confidence strictly increasing, calibrated non-decreasing. */
export interface TopLabelMap {
  confidence: number[];
  calibrated: number[];
}

/**
 * Temperature scaling of each window, then a top-label map of the document (after the token-weighted
 * window mean): the arg-max keeps its label, its probability becomes the map of the document's
 * confidence (above the runner-up's), the other classes share the rest pro rata (topLabelProbabilities).
 * Fitted by training/calibrate_sentiment.py; no arg-max label changes.
 */
export interface TopLabelCalibration extends Omit<TemperatureCalibration, 'method'> {
  method: 'temperature_top_label';
  topLabel: TopLabelMap;
}

export type Calibration = TemperatureCalibration | VectorCalibration | TopLabelCalibration;

const METHODS: ReadonlyArray<Calibration['method']> = ['temperature', 'vector', 'temperature_top_label'];

/** What the engine does to a window's logits before the softmax. */
export type LogitTransform = (logits: ArrayLike<number>) => ArrayLike<number>;

/** What the engine does to a document's result after the window mean (label never changes). */
export type DocumentTransform = (result: SentimentResult) => SentimentResult;

const finiteArray = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/**
 * The model directory's calibration, or undefined when it has none (probabilities are then the plain
 * softmax). A file that is present but unusable is a load error, not a silent fallback.
 */
export function readCalibration(dir: string): Calibration | undefined {
  const file = readOptionalModelJson(dir, CALIBRATION_FILE);
  if (!file) return undefined;
  const { path, parsed } = file;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ModelLoadError(`${path}: expected a JSON object`);
  const c = parsed as
    Partial<VectorCalibration> | Partial<TemperatureCalibration> | Partial<TopLabelCalibration>;
  if (!METHODS.includes(c.method as Calibration['method']))
    throw new ModelLoadError(`${path}: method must be one of ${METHODS.map((m) => `"${m}"`).join(', ')}`);
  if (typeof c.temperature !== 'number' || !Number.isFinite(c.temperature) || c.temperature <= 0)
    throw new ModelLoadError(`${path}: temperature must be a positive number`);
  if (c.method === 'vector') checkVector(c as Partial<VectorCalibration>, path);
  if (c.method === 'temperature_top_label') checkTopLabel((c as Partial<TopLabelCalibration>).topLabel, path);
  return c as Calibration;
}

function checkVector(c: Partial<VectorCalibration>, path: string): void {
  if (!finiteArray(c.scale) || !finiteArray(c.bias) || !Array.isArray(c.labels))
    throw new ModelLoadError(`${path}: vector calibration needs labels, scale and bias (finite numbers)`);
  if (c.scale.length !== c.labels.length || c.bias.length !== c.labels.length)
    throw new ModelLoadError(`${path}: scale and bias need one entry per label (${c.labels.length})`);
}

/** A top-label map must be knots in [0, 1], confidence strictly increasing, calibrated non-decreasing. */
function checkTopLabel(m: Partial<TopLabelMap> | undefined, path: string): void {
  const fail = (why: string): never => {
    throw new ModelLoadError(`${path}: topLabel ${why}`);
  };
  if (typeof m !== 'object' || m === null)
    return fail('must be {confidence: number[], calibrated: number[]}');
  const { confidence: x, calibrated: y } = m;
  if (!finiteArray(x) || !finiteArray(y))
    return fail('confidence and calibrated must be arrays of finite numbers');
  if (x.length < 2 || x.length !== y.length)
    fail('needs at least 2 knots, as many calibrated values as confidences');
  if ([...x, ...y].some((v) => v < 0 || v > 1)) fail('knots must lie in [0, 1]');
  if (x.some((v, i) => i > 0 && v <= x[i - 1]!)) fail('confidence must be strictly increasing');
  if (y.some((v, i) => i > 0 && v < y[i - 1]!)) fail('calibrated must be non-decreasing (a monotone map)');
}

/**
 * The transform a calibration applies to the logits of a head labelled `id2label`; identity without
 * one. A vector calibration fitted for other labels (or another order) is a load error.
 */
export function logitTransform(
  calibration: Calibration | undefined,
  id2label: readonly string[],
  dir: string,
): LogitTransform {
  if (!calibration) return (logits) => logits;
  if (calibration.method === 'temperature' || calibration.method === 'temperature_top_label') {
    const t = calibration.temperature;
    return (logits) => scaleLogits(logits, t);
  }
  if (calibration.labels.join('\n') !== id2label.join('\n'))
    throw new ModelLoadError(
      `${join(dir, CALIBRATION_FILE)}: labels ${calibration.labels.join(', ')} do not match the model's id2label ${id2label.join(', ')}`,
    );
  const { scale, bias } = calibration;
  return (logits) => Array.from(logits, (v, i) => v * scale[i]! + bias[i]!);
}

/** Logits divided by the temperature (a copy); T = 1 returns the input unchanged. */
export function scaleLogits(logits: ArrayLike<number>, temperature: number): ArrayLike<number> {
  if (temperature === 1) return logits;
  return Array.from(logits, (v) => v / temperature);
}

/**
 * The document-level step of a calibration: the top-label map for `temperature_top_label`, identity
 * otherwise. Confidence, polarity and probabilities follow the map; the label is kept.
 */
export function documentTransform(calibration: Calibration | undefined): DocumentTransform {
  if (calibration?.method !== 'temperature_top_label') return (result) => result;
  const map = calibration.topLabel;
  return (result) => {
    const probabilities = topLabelProbabilities(result.probabilities, result.label, map);
    return {
      ...result,
      probabilities,
      confidence: probabilities[result.label],
      polarity: probabilities.positive - probabilities.negative,
    };
  };
}

/** Piecewise-linear interpolation through the knots, constant beyond the ends (numpy.interp). */
export function interpolate(x: readonly number[], y: readonly number[], v: number): number {
  const n = x.length;
  if (v <= x[0]!) return y[0]!;
  if (v >= x[n - 1]!) return y[n - 1]!;
  let i = 0;
  while (v >= x[i + 1]!) i++;
  const slope = (y[i + 1]! - y[i]!) / (x[i + 1]! - x[i]!);
  return slope * (v - x[i]!) + y[i]!;
}

const LABEL_ORDER: readonly SentimentLabel[] = ['negative', 'neutral', 'positive'];
/** A clamped top class sits this far above the runner-up's share: a strict arg-max, never a tie. */
export const TIE_MARGIN = 1e-9;

/**
 * Top-label map of document probabilities (training/calibrate_sentiment.py top_label()): `label`
 * gets map(its probability), raised to the runner-up's rescaled value + TIE_MARGIN where the map is
 * lower, so it stays the strict arg-max; the others share 1 − that pro rata (equally if they were 0).
 */
export function topLabelProbabilities(
  p: SentimentProbabilities,
  label: SentimentLabel,
  map: TopLabelMap,
): SentimentProbabilities {
  const others = LABEL_ORDER.filter((l) => l !== label);
  const rest = others.reduce((s, l) => s + p[l], 0);
  const second = Math.max(...others.map((l) => p[l]));
  const floor = rest > 0 ? second / (rest + second) : 1 / LABEL_ORDER.length;
  const top = Math.max(interpolate(map.confidence, map.calibrated, p[label]), floor + TIE_MARGIN);
  const out: SentimentProbabilities = { negative: 0, neutral: 0, positive: 0 };
  for (const l of others) out[l] = (rest > 0 ? p[l] / rest : 1 / others.length) * (1 - top);
  out[label] = top;
  return out;
}
