import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelLoadError } from './model.js';

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
 * training/calibrate_sentiment.py where it has the lower cross-fitted dev ECE; unlike a temperature it
 * can change an arg-max label (the model card states how many). `temperature` is the one-parameter fit
 * on the same data, reported beside it and not applied.
 */
export interface VectorCalibration extends Omit<TemperatureCalibration, 'method'> {
  method: 'vector';
  labels: string[];
  scale: number[];
  bias: number[];
}

export type Calibration = TemperatureCalibration | VectorCalibration;

/** What the engine does to a window's logits before the softmax. */
export type LogitTransform = (logits: ArrayLike<number>) => ArrayLike<number>;

/**
 * The model directory's calibration, or undefined when it has none (probabilities are then the plain
 * softmax). A file that is present but unusable is a load error, not a silent fallback.
 */
export function readCalibration(dir: string): Calibration | undefined {
  const path = join(dir, CALIBRATION_FILE);
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const c = parsed as Partial<VectorCalibration> | Partial<TemperatureCalibration>;
  if (c.method !== 'temperature' && c.method !== 'vector')
    throw new ModelLoadError(`${path}: method must be "temperature" or "vector"`);
  if (typeof c.temperature !== 'number' || !Number.isFinite(c.temperature) || c.temperature <= 0)
    throw new ModelLoadError(`${path}: temperature must be a positive number`);
  if (c.method === 'vector') {
    const finite = (v: unknown): v is number[] =>
      Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
    if (!finite(c.scale) || !finite(c.bias) || !Array.isArray(c.labels))
      throw new ModelLoadError(`${path}: vector calibration needs labels, scale and bias (finite numbers)`);
    if (c.scale.length !== c.labels.length || c.bias.length !== c.labels.length)
      throw new ModelLoadError(`${path}: scale and bias need one entry per label (${c.labels.length})`);
  }
  return c as Calibration;
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
  if (calibration.method === 'temperature') {
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
