import type { AlertRuleConfig } from '../config/schema.js';
import type { GroupWindowStats } from '../domain/windows.js';
import type { CusumState } from '../stats/cusum.js';
import { ALL_DIMENSION } from '../stats/grouping.js';
import type { Measurement } from './state-machine.js';

/**
 * What a rule is measured on (src/alerts/measure.ts): the windows read for a round, the pipeline
 * signals, the pinned baseline and the state of sequential rules. Shared by the per-kind measurers in
 * src/alerts/rule-kinds/, which this file keeps free of an import back into measure.ts.
 */

export interface PipelineSignals {
  dlqRate: number;
  dlqShare: number;
  consumerLag: number;
  stalledSeconds: number;
  inputRate: number;
  /** Late-topic records / input records consumed over the span (0 when the late topic is not read). */
  lateShare?: number;
  /** Consumer lag per input partition, keyed "topic:partition" (the window store's partition keys). */
  partitionLag?: Readonly<Record<string, number>>;
}

export interface EvaluationInputs {
  /** Current windows keyed by windowKey(dimension, windowMs). */
  current: ReadonlyMap<string, readonly GroupWindowStats[]>;
  /** Reference windows (trailing or baseline, evaluator.reference), same keys. */
  reference: ReadonlyMap<string, readonly GroupWindowStats[]>;
  pipeline: PipelineSignals | null;
  /**
   * The pinned baseline (`finsentry baseline capture`), by dimension: the default reference of drift
   * rules (docs/alerting.md). null or absent: no baseline captured — drift rules that need it are not
   * judged and say so (never a silent fallback to the trailing window).
   */
  baseline?: BaselineReference | null;
  /**
   * Windows before the current ones, same keys, most recent first: the surge rule's baseline
   * dispersion (the evaluator reads PAST_WINDOWS of them for rules that need them; pastWindowsNeeded).
   */
  past?: ReadonlyMap<string, ReadonlyArray<readonly GroupWindowStats[]>>;
  /** Event time the current windows end at: sequential detectors fold each bucket once. */
  endMs?: number;
  /** State of sequential (CUSUM) rules across evaluations, owned by the caller. */
  sequential?: Map<string, SequentialState>;
}

export interface BaselineReference {
  name: string;
  dimensions: Readonly<Record<string, readonly GroupWindowStats[]>>;
}

export interface SequentialState {
  cusum: CusumState;
  /** Window end of the last bucket folded in. */
  lastEndMs: number;
}

/** Detail of a drift measurement that has no baseline to compare with. */
export const NO_BASELINE =
  'no baseline captured: run `finsentry baseline capture` (drift rules stay unjudged)';

export function windowKey(dimension: string, windowMs: number): string {
  return `${dimension}|${windowMs}`;
}

export function ruleDimension(rule: AlertRuleConfig): string {
  if (rule.kind === 'pipeline') return 'pipeline';
  return rule.dimension ?? ALL_DIMENSION;
}

/**
 * Key of a rule's reference in EvaluationInputs.reference: its window's key (the evaluator's
 * reference), or, for a rule with its own `referenceWindow` (the surge rule's 24 h history), that
 * trailing window ending where the rule's window starts.
 */
export function referenceKey(rule: AlertRuleConfig): string {
  const key = windowKey(ruleDimension(rule), rule.window);
  return rule.referenceWindow === undefined ? key : `${key}|own:${rule.referenceWindow}`;
}

/** One rule, and what it reads in a round: the measurer of its kind gets this. */
export interface RuleMeasureContext {
  rule: AlertRuleConfig;
  inputs: EvaluationInputs;
  /** The rule's current window (empty for pipeline rules). */
  current: readonly GroupWindowStats[];
  /** The rule's reference window (referenceKey; empty for pipeline rules). */
  reference: readonly GroupWindowStats[];
  /** The identity every measurement of the rule carries. */
  base: { rule: string; dimension: string };
  minSamples: number;
}

/** Measures one rule of a kind: one Measurement per (rule, dimension, group). */
export type RuleKindMeasurer = (ctx: RuleMeasureContext) => Measurement[];

/** A figure in a measurement's detail: three decimals, `n/a` when not finite. */
export const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
