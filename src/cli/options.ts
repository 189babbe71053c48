import { accessSync, constants } from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../config/duration.js';
import type { FinsentryConfig } from '../config/schema.js';
import { AGGREGATION_STRATEGIES, type AggregationStrategy } from '../inference/ner.js';
import { ALL_DIMENSION } from '../stats/grouping.js';

/**
 * Options and argument checks shared by every command, so that the same flag means the same thing
 * and fails the same way everywhere (docs/cli.md#errors).
 */

/** A command-line mistake: one line, exit code 2 (as commander's own usage errors). */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function configOption(
  description = 'config file (YAML or JSON); defaults apply when omitted',
): Option {
  return new Option('-c, --config <file>', description);
}

interface IntRange {
  min?: number;
  max?: number;
}

/** Parser for an integer option within [min, max]. */
export function intArg({ min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER }: IntRange = {}) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer${rangeText(min, max)}, got "${value}"`);
    return n;
  };
}

/** Parser for `--aggregation`: one of the NER decoding strategies (src/inference/ner.ts). */
export function aggregationArg(value: string): AggregationStrategy {
  const strategy = AGGREGATION_STRATEGIES.find((s) => s === value);
  if (!strategy)
    throw new InvalidArgumentError(`expected ${AGGREGATION_STRATEGIES.join(', ')}; got "${value}"`);
  return strategy;
}

/** Parser for a finite number option within [min, max] (with `exclusiveMin`, above min). */
export function numberArg({ min = -Infinity, max = Infinity, exclusiveMin = false } = {}) {
  const bounds = [
    Number.isFinite(min) ? (exclusiveMin ? `above ${min}` : `≥ ${min}`) : '',
    Number.isFinite(max) ? `≤ ${max}` : '',
  ].filter(Boolean);
  return (value: string): number => {
    const n = Number(value.replace(/\/s$/, ''));
    const low = exclusiveMin ? n <= min : n < min;
    if (value.trim() === '' || !Number.isFinite(n) || low || n > max)
      throw new InvalidArgumentError(
        `expected a number${bounds.length ? ` ${bounds.join(' and ')}` : ''}, got "${value}"`,
      );
    return n;
  };
}

function rangeText(min: number, max: number): string {
  const lo = Number.isFinite(min) && min > Number.MIN_SAFE_INTEGER;
  const hi = Number.isFinite(max) && max < Number.MAX_SAFE_INTEGER;
  if (lo && hi) return ` in ${min}..${max}`;
  if (lo) return ` ≥ ${min}`;
  if (hi) return ` ≤ ${max}`;
  return '';
}

export function durationArg(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** An input file the command will read: a missing or unreadable one is named before any work starts. */
export function requireReadableFile(file: string, option: string): void {
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code;
    throw new UsageError(`${option}: cannot read ${file} (${why})`);
  }
}

/** A dimension named on the command line must be a configured one (stats.dimensions) or `_all`. */
export function requireDimension(config: FinsentryConfig, name: string, option: string): void {
  const configured = config.stats.dimensions.map((d) => d.name);
  if (name !== ALL_DIMENSION && !configured.includes(name))
    throw new UsageError(
      `${option}: unknown dimension "${name}"; configured (stats.dimensions): ${configured.join(', ')}, or ${ALL_DIMENSION}`,
    );
}
