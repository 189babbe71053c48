import {
  measureRule,
  referenceKey,
  ruleDimension,
  windowKey,
  type EvaluationInputs,
} from '../../alerts/measure.js';
import { identitiesToStep, step, type AlertRecord } from '../../alerts/state-machine.js';
import type { AlertRuleConfig } from '../../config/schema.js';
import type { StatsObservation } from '../../domain/observation.js';
import type { GroupWindowStats, StatsSink, WindowReader } from '../../domain/windows.js';
import { sumGroupStats } from '../../stats/counters.js';
import { IssuerResolver } from '../../stats/issuer-master.js';
import { generateScenario, selectUniverse, type ScenarioOptions } from '../scenarios/generate.js';
import type { GroundTruth } from '../scenarios/ground-truth.js';
import { Random } from '../scenarios/random.js';
import type { ObservedAlert } from '../scenarios/scoring.js';
import { universeIssuerMaster } from '../scenarios/universe.js';
import { Observer, type GroupingMode, type SimulatedModel } from './observe.js';

/**
 * `finsentry backtest` (docs/alerting.md "Backtest"): scenario traffic through the real rule code —
 * measureRule, identitiesToStep and step, the functions the evaluator runs — on in-memory windows,
 * with no Kafka, Redis or model. Documents are applied in arrival order in batches per input
 * partition; the rules are stepped at every bucket end the watermark (lowest partition watermark)
 * passes, on the event clock, over windows of complete buckets, as the evaluator does.
 *
 * References: the evaluator's trailing reference (`referenceMs`, ending where the window starts), or
 * a rule's own `referenceWindow`. A reference longer than an hour is assembled from hourly windows
 * read once each and moves in whole hours (a day of buckets re-read every minute would cost the
 * backtest hours; the 24 h history of an issuer barely moves in an hour).
 */

export type BacktestStore = StatsSink & WindowReader;

export interface BacktestOptions {
  scenario: ScenarioOptions;
  rules: readonly AlertRuleConfig[];
  mode: GroupingMode;
  model: SimulatedModel;
  /** A fresh in-memory window store with the given bucket and lateness. */
  store: (opts: { bucketMs: number; allowedLatenessMs: number; windowsMs: number[] }) => BacktestStore;
  bucketMs?: number;
  allowedLatenessMs?: number;
  /** evaluator.reference.window (trailing). */
  referenceMs?: number;
  defaultMinSamples?: number;
  storyWindowMs?: number;
  dedupDimensions?: readonly string[];
  storyKinds?: readonly string[];
  /** Observations per store apply call. */
  batchSize?: number;
  onProgress?: (eventTimeMs: number) => void;
  /** Called with each round's inputs (diagnostics: what a rule saw at a given time). */
  onRound?: (endMs: number, inputs: EvaluationInputs) => void;
}

export interface BacktestRun {
  truth: GroundTruth;
  alerts: ObservedAlert[];
  documents: number;
  duplicatesSkipped: number;
  lateObservations: number;
  evaluations: number;
}

const HOUR = 3_600_000;

/** Reads windows for one round; long references from hourly pieces cached across rounds. */
class WindowCache {
  private round = new Map<string, Promise<GroupWindowStats[]>>();
  private readonly hours = new Map<string, Promise<GroupWindowStats[]>>();

  constructor(private readonly reader: WindowReader) {}

  next(): void {
    this.round = new Map();
  }

  read(dimension: string, windowMs: number, endMs: number): Promise<GroupWindowStats[]> {
    if (windowMs > HOUR && windowMs % HOUR === 0) return this.readLong(dimension, windowMs, endMs);
    const key = `${dimension}|${windowMs}|${endMs}`;
    let hit = this.round.get(key);
    if (!hit) this.round.set(key, (hit = this.reader.readWindow({ dimension, windowMs, endMs })));
    return hit;
  }

  private async readLong(dimension: string, windowMs: number, endMs: number): Promise<GroupWindowStats[]> {
    const end = Math.floor(endMs / HOUR) * HOUR;
    const pieces: GroupWindowStats[][] = [];
    for (let e = end - windowMs + HOUR; e <= end; e += HOUR) {
      const key = `${dimension}|${e}`;
      let hit = this.hours.get(key);
      if (!hit) this.hours.set(key, (hit = this.reader.readWindow({ dimension, windowMs: HOUR, endMs: e })));
      pieces.push(await hit);
    }
    for (const key of this.hours.keys())
      if (Number(key.slice(key.lastIndexOf('|') + 1)) <= end - windowMs) this.hours.delete(key);
    const byGroup = new Map<string, GroupWindowStats[]>();
    for (const g of pieces.flat()) byGroup.set(g.group, [...(byGroup.get(g.group) ?? []), g]);
    return [...byGroup].map(([group, list]) => sumGroupStats(dimension, group, list));
  }
}

/** Evaluator.stepAll without the stores: the same steps, upserts and forgetting of ended episodes. */
function stepRules(
  rules: readonly AlertRuleConfig[],
  inputs: EvaluationInputs,
  stored: Map<string, AlertRecord>,
  nowMs: number,
  minSamples: number,
  onTransition: (record: AlertRecord) => void,
): void {
  for (const rule of rules) {
    if (rule.kind === 'pipeline') continue;
    const measurements = measureRule(rule, inputs, minSamples);
    for (const id of identitiesToStep(measurements, stored, rule.name)) {
      const { next, transition } = step(rule, id.prev, id.measurement, nowMs);
      if (transition) onTransition(transition.record);
      if (!next || (next.state === 'inactive' && id.prev)) stored.delete(id.fingerprint);
      else if (next.state === 'resolved' && !transition && nowMs - (next.endedAtMs ?? nowMs) > HOUR)
        stored.delete(id.fingerprint);
      else if (next.state !== 'inactive') stored.set(id.fingerprint, next);
    }
  }
}

/** The simulated model and grouping of the run, over the scenario's universe of issuers. */
function backtestObserver(o: BacktestOptions): Observer {
  const universe = selectUniverse(o.scenario.universeSize);
  return new Observer(
    {
      model: o.model,
      mode: o.mode,
      resolver: new IssuerResolver(universeIssuerMaster(universe)),
      storyWindowMs: o.storyWindowMs ?? 1_800_000,
      dedupDimensions: o.dedupDimensions ?? ['issuer', 'ticker'],
      storyKinds: o.storyKinds ?? ['news'],
    },
    Random.fromSeed(o.scenario.seed).fork(11),
  );
}

/** The alerts of the run, one per firing episode, resolved when their episode resolves. */
function alertEpisodes(): { alerts: ObservedAlert[]; onTransition: (r: AlertRecord) => void } {
  const episodes = new Map<string, ObservedAlert>();
  const alerts: ObservedAlert[] = [];
  const onTransition = (r: AlertRecord) => {
    if (r.state === 'firing') {
      const a: ObservedAlert = {
        rule: r.rule,
        dimension: r.dimension,
        group: r.group,
        firingAtMs: r.changedAtMs,
        resolvedAtMs: null,
      };
      if (r.dimension === '_all') a.feature = r.group;
      episodes.set(r.fingerprint, a);
      alerts.push(a);
    } else if (r.state === 'resolved') {
      const a = episodes.get(r.fingerprint);
      if (a) a.resolvedAtMs = r.changedAtMs;
      episodes.delete(r.fingerprint);
    }
  };
  return { alerts, onTransition };
}

/** Every rule's current window and reference at one bucket end, as the evaluator reads them. */
async function roundInputs(
  rules: readonly AlertRuleConfig[],
  cache: WindowCache,
  end: number,
  referenceMs: number,
): Promise<EvaluationInputs> {
  cache.next();
  const current = new Map<string, GroupWindowStats[]>();
  const reference = new Map<string, GroupWindowStats[]>();
  for (const rule of rules) {
    const dimension = ruleDimension(rule);
    current.set(windowKey(dimension, rule.window), await cache.read(dimension, rule.window, end));
    reference.set(
      referenceKey(rule),
      await cache.read(dimension, rule.referenceWindow ?? referenceMs, end - rule.window),
    );
  }
  return { current, reference, pipeline: null };
}

/** The end of the last complete bucket under the watermark (the lowest partition watermark). */
async function lastCompleteBucketEnd(store: BacktestStore, bucketMs: number): Promise<number> {
  const marks = store.partitionWatermarks ? [...(await store.partitionWatermarks()).values()] : [];
  const watermark = marks.length > 0 ? Math.min(...marks) : await store.watermark();
  return Math.floor(watermark / bucketMs) * bucketMs - bucketMs;
}

export async function runBacktest(o: BacktestOptions): Promise<BacktestRun> {
  const bucketMs = o.bucketMs ?? 60_000;
  const allowedLatenessMs = o.allowedLatenessMs ?? 300_000;
  const referenceMs = o.referenceMs ?? HOUR;
  const rules = o.rules.filter((r) => r.kind !== 'pipeline');
  const longest = Math.max(...rules.map((r) => r.window + (r.referenceWindow ?? referenceMs)));
  const store = o.store({ bucketMs, allowedLatenessMs, windowsMs: [longest, HOUR] });
  const observer = backtestObserver(o);
  const run = generateScenario({ ...o.scenario, rules: o.rules });
  const cache = new WindowCache(store);
  const stored = new Map<string, AlertRecord>();
  const { alerts, onTransition } = alertEpisodes();

  const batches = new Map<string, StatsObservation[]>();
  const offsets = new Map<string, number>();
  let pending = 0;
  let documents = 0;
  let late = 0;
  let evaluatedUntil = 0;
  let evaluations = 0;
  const flush = async () => {
    const list = [...batches].map(([partitionKey, observations]) => ({
      partitionKey,
      lastOffset: observations[observations.length - 1]!.offset!,
      observations,
      labels: [],
    }));
    batches.clear();
    pending = 0;
    if (list.length === 0) return;
    for (const r of await store.apply(list)) late += r.late;
    const complete = await lastCompleteBucketEnd(store, bucketMs);
    if (evaluatedUntil === 0) evaluatedUntil = complete - bucketMs;
    for (let end = evaluatedUntil + bucketMs; end <= complete; end += bucketMs) {
      const inputs = await roundInputs(rules, cache, end, referenceMs);
      o.onRound?.(end, inputs);
      stepRules(rules, inputs, stored, end, o.defaultMinSamples ?? 30, onTransition);
      evaluatedUntil = end;
      evaluations++;
      if (evaluations % 60 === 0) o.onProgress?.(end);
    }
  };

  for (const m of run.messages) {
    if (m.topic === 'labels' || m.truth === null) continue;
    const partitionKey = `${m.topic}.raw:0`;
    const offset = (offsets.get(partitionKey) ?? -1) + 1;
    offsets.set(partitionKey, offset);
    const list = batches.get(partitionKey) ?? [];
    list.push(observer.observe(m, offset));
    batches.set(partitionKey, list);
    documents++;
    if (++pending >= (o.batchSize ?? 500)) await flush();
  }
  await flush();
  return {
    truth: run.truth,
    alerts,
    documents,
    duplicatesSkipped: observer.duplicatesSkipped,
    lateObservations: late,
    evaluations,
  };
}
