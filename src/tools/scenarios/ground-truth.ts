import type { RejectReason } from '../../codec/reasons.js';
import type { SentimentLabel } from '../../domain/enrichment.js';

/**
 * What a scenario run injected, and what a correct finsentry should therefore report. All times are
 * event time (epoch ms), the clock the window store and the alert rules run on, so the same truth
 * holds at any replay speed.
 */

export const SCENARIO_NAMES = [
  'clean',
  'issuer-surge',
  'region-bias',
  'drift',
  'poison',
  'mixed',
  'zh-surge',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export type InputTopic = 'news' | 'chat';
/** Input topics plus the optional delayed human labels (design §2 Label). */
export type ScenarioTopic = InputTopic | 'labels';

export interface TruthGroup {
  /** Dimension name as in the default config (stats.dimensions): issuer, ticker, region, source, … */
  dimension: string;
  group: string;
  /** Other groups of the dimension that stand for the same thing (an issuer's cashtag form). */
  aliases?: string[];
}

export interface InjectedEvent {
  kind: 'surge' | 'bias' | 'drift' | 'poison' | 'coverage-burst';
  description: string;
  /** Start of the injected effect (event time, inclusive). */
  fromMs: number;
  /** End of the injected effect (event time, exclusive). */
  toMs: number;
  /** Groups that carry the effect (for drift: none; for poison: none). */
  groups: TruthGroup[];
  /** Drift only: the input/output features that were shifted. */
  features?: string[];
  /** The knobs of the injection (peak negative share, multiplier, ramp, share, …). */
  params: Record<string, number | string | boolean>;
}

/**
 * An alert a correct deployment with the default rules (src/alerts/default-rules.ts) raises. It must be
 * firing at some point within [fromMs, fromMs + detectWithinMs] and should resolve by toMs +
 * resolveWithinMs. Any alert not listed here is a false alert for the scenario.
 */
export interface ExpectedAlert {
  rule: string;
  kind: 'sentiment' | 'fairness' | 'drift' | 'pipeline';
  dimension?: string;
  /** The group the alert names (sentiment rules); fairness rules name the worst group. */
  group?: string;
  /** Groups that stand for the same thing as `group`: an alert on any of them is the detection. */
  aliases?: string[];
  feature?: string;
  fromMs: number;
  toMs: number;
  /** Allowed detection delay after fromMs, event time: the rule's window fill + its `for`, plus slack. */
  detectWithinMs: number;
  /** Allowed delay after toMs until the alert resolves (null: may stay firing to the end of the run). */
  resolveWithinMs: number | null;
}

/**
 * An alert that may fire, but need not, without being a false alert: an effect an injection has
 * through the model rather than by construction, so its size depends on the model. A length drift
 * (long articles) makes the model read texts less confidently and moves its p_neg distribution;
 * whether that crosses an output-drift rule's threshold depends on the model and the window.
 */
export interface ToleratedAlert {
  rule: string;
  kind: ExpectedAlert['kind'];
  dimension?: string;
  feature?: string;
  /** Firing from this time on (event time) is tolerated. */
  fromMs: number;
  why: string;
}

/**
 * Malformed-input kinds the `poison` scenario can inject, named by the DLQ reason they must produce.
 * Per-record kinds only: the batch-level reasons (src/io/kafka/bounded-codecs.ts) need a crafted batch.
 */
export type PoisonKind = Exclude<
  RejectReason,
  'enrich-failed' | 'decompression-limit' | 'corrupt-batch' | 'unsupported-compression'
>;

export interface ExpectedDeadLetter {
  id: string;
  topic: InputTopic;
  /** The Kafka key of the record (the id; poison records are keyed like good ones). */
  key: string;
  reason: RejectReason;
  eventTimeMs: number;
}

export interface TruthCounts {
  total: number;
  byTopic: Record<InputTopic, number>;
  /** Intended sentiment of the well-formed documents. */
  byTruth: Record<SentimentLabel, number>;
  poison: number;
  /** Delayed human labels emitted on the labels topic (the intended sentiment of a sample of documents). */
  labels: number;
  deadLettersByReason: Partial<Record<RejectReason, number>>;
}

export interface GroundTruth {
  version: 1;
  scenario: ScenarioName;
  seed: number;
  startMs: number;
  endMs: number;
  /** Documents per second of event time. */
  ratePerSecond: number;
  /** Issuers in the universe used for this run (tickers). */
  tickers: string[];
  /** Baseline intended label mix of stationary traffic. */
  baselineMix: Record<SentimentLabel, number>;
  injected: InjectedEvent[];
  expectedAlerts: ExpectedAlert[];
  /** Alerts that may follow from the injections through the model (absent from older truth files). */
  toleratedAlerts?: ToleratedAlert[];
  /** Poison kinds asked for but not generated because the configured limits make them impossible. */
  skippedPoisonKinds: Array<{ kind: PoisonKind; why: string }>;
  expectedDeadLetters: ExpectedDeadLetter[];
  counts: TruthCounts;
  /** False while the message iterator has not been run to its end (counts and DLQ list are partial). */
  complete: boolean;
}

/** Per-document truth, streamed to the truth file (never part of the Kafka message). */
export interface DocumentTruth {
  id: string;
  topic: InputTopic;
  eventTimeMs: number;
  /** Intended sentiment; null for poison. */
  truth: SentimentLabel | null;
  region?: string;
  ticker?: string;
  poison?: RejectReason;
}
