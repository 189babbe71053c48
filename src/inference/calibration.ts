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
 * The model directory's calibration, or undefined when it has none (probabilities are then the plain
 * softmax). A file that is present but unusable is a load error, not a silent fallback.
 */
export function readCalibration(dir: string): TemperatureCalibration | undefined {
  const path = join(dir, CALIBRATION_FILE);
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const c = parsed as Partial<TemperatureCalibration>;
  if (c.method !== 'temperature') throw new ModelLoadError(`${path}: method must be "temperature"`);
  if (typeof c.temperature !== 'number' || !Number.isFinite(c.temperature) || c.temperature <= 0)
    throw new ModelLoadError(`${path}: temperature must be a positive number`);
  return c as TemperatureCalibration;
}

/** Logits divided by the temperature (a copy); T = 1 returns the input unchanged. */
export function scaleLogits(logits: ArrayLike<number>, temperature: number): ArrayLike<number> {
  if (temperature === 1) return logits;
  return Array.from(logits, (v) => v / temperature);
}
