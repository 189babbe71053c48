import { performance } from 'node:perf_hooks';
import type { AlertRuleConfig } from '../config/schema.js';
import type { GroupWindowStats, WindowReader } from '../domain/windows.js';
import { judgedWatermark } from '../stats/event-time.js';
import { fairnessReport } from '../stats/fairness.js';
import { ALL_DIMENSION } from '../stats/grouping.js';
import { ALERT_STORY_LIMIT, type StoryExemplarStore } from '../stats/story-exemplars.js';
import { windowEndFor } from '../stats/windows/rules.js';
import type { Logger } from '../telemetry/logger.js';
import type { AlertStateCount, PipelineMetrics } from '../telemetry/metrics.js';
import { toAlertEvent } from './events.js';
import { slidingReference } from './sliding-reference.js';
import { pastWindowsNeeded, PastWindowsSource } from './past-windows.js';
import { SURGE_METRIC } from '../config/rules.js';
import {
  driftResults,
  fairnessGaugeConfidence,
  fairnessSample,
  groupSentiment,
  measureRule,
  requiredWindows,
  validateRule,
  windowKey,
  ownReferences,
  type BaselineReference,
  type EvaluationInputs,
  type PipelineSignals,
  type SequentialState,
} from './measure.js';
import type {
  AlertPublisher,
  AlertStateStore,
  LeaderLease,
  LeaderTerm,
  OutboxEntry,
  WindowReader as EvaluatorWindows,
} from './ports.js';
import { identitiesToStep, step, type AlertRecord, type Transition } from './state-machine.js';
import { activeAlertIdentities } from './prometheus-rules.js';
import { equalizedOddsSample } from './equalized-odds-rule.js';
import { withoutFoldedGroup } from '../stats/windows/group-budget.js';

export type { AlertPublisher } from './ports.js';

/**
 * The alert evaluator (design §7): on every interval, the one replica holding the leader lease reads
 * the windows, measures every rule, steps each alert's state machine, commits the new state and the
 * resulting events in one fenced write to its AlertStateStore, then publishes the events (Kafka,
 * optional Alertmanager webhook) from the outbox. Its store, lease, windows and publishers are ports
 * (./ports.ts): Redis and Kafka in the service (wired in src/app), memory in tests and backtests. Every replica keeps running the lease so that another
 * takes over within the lease expiry when the leader dies. Gauges (per-group sentiment for bounded
 * dimensions and top-K, fairness, drift, alert states) are exported by the leader.
 */

/** Where the reference of a window comes from (design §6): trailing window or a captured baseline. */
export interface ReferenceSource {
  read(dimension: string, windowMs: number, currentEndMs: number): Promise<GroupWindowStats[]>;
}

/**
 * The trailing window of `referenceMs` that ends where the current window starts. Cached per
 * (dimension, window, end): the end only moves when the watermark enters a new bucket, so the
 * (large) reference window is read about once per bucket rather than once per evaluation.
 */
export function trailingReference(reader: WindowReader, referenceMs: number): ReferenceSource {
  const cache = new Map<string, { endMs: number; value: Promise<GroupWindowStats[]> }>();
  return {
    read: (dimension, windowMs, currentEndMs) => {
      const key = `${dimension}|${windowMs}`;
      const hit = cache.get(key);
      if (hit && hit.endMs === currentEndMs) return hit.value;
      const value = reader.readWindow({ dimension, windowMs: referenceMs, endMs: currentEndMs - windowMs });
      value.catch(() => cache.delete(key));
      cache.set(key, { endMs: currentEndMs, value });
      return value;
    },
  };
}

/** A captured baseline (`finsentry baseline capture`) as the reference of every window; re-read once a minute. */
export function baselineReference(
  read: () => Promise<{ dimensions: Record<string, GroupWindowStats[]> } | null>,
  refreshMs = 60_000,
): ReferenceSource {
  let cached: { atMs: number; value: Promise<Record<string, GroupWindowStats[]>> } | undefined;
  return {
    read: async (dimension) => {
      if (!cached || Date.now() - cached.atMs > refreshMs) {
        const value = read().then((b) => b?.dimensions ?? {});
        value.catch(() => (cached = undefined));
        cached = { atMs: Date.now(), value };
      }
      return (await cached.value)[dimension] ?? [];
    },
  };
}

/** Bucket ends one event-clock round evaluates at most (the rest wait for the next round). */
const MAX_STEPS_PER_ROUND = 30;
/** Outbox events per publish: acknowledged chunk by chunk (the Kafka publisher also splits by bytes). */
const OUTBOX_CHUNK = 500;

/** The gauges and counters the evaluator exports (implemented by src/telemetry/metrics.ts). */
export type EvaluatorMetrics = Pick<
  PipelineMetrics,
  | 'alertIdentities'
  | 'alertStates'
  | 'alertTransition'
  | 'drift'
  | 'evaluatedUntil'
  | 'evaluation'
  | 'fairness'
  | 'groupSentiment'
  | 'leader'
> &
  Partial<Pick<PipelineMetrics, 'alertOutbox'>>;

export interface EvaluatorOptions {
  /** Alert records and the event outbox (fenced by the lease's token). */
  store: AlertStateStore;
  /** Only the holder of the lease evaluates; the evaluator starts and stops it. */
  lease: LeaderLease;
  windows: EvaluatorWindows;
  reference: ReferenceSource;
  rules: readonly AlertRuleConfig[];
  publishers: readonly AlertPublisher[];
  metrics?: EvaluatorMetrics;
  logger?: Logger;
  /**
   * The pinned baseline, the default reference of drift rules (src/alerts/baseline.ts cachedBaseline);
   * absent or resolving to null → drift rules on the baseline are unjudged and say so.
   */
  baseline?: () => Promise<BaselineReference | null>;
  /**
   * The most negative stories of a group (src/stats/story-exemplars.ts): a surge alert going firing
   * carries their ids (labels.story_ids); absent → alerts carry none.
   */
  stories?: Pick<StoryExemplarStore, 'topNegative'>;
  /** Reads the pipeline signals (Kafka offsets); absent → pipeline rules are not evaluated. */
  pipelineSignals?: () => Promise<PipelineSignals | null>;
  intervalMs: number;
  /** Default min samples (config.stats.minSamples). */
  minSamples: number;
  /** Bucket size of the window store: windows end at the start of the watermark's bucket (complete buckets only). */
  bucketMs: number;
  /**
   * Dimensions exported as gauges (config.stats.dimensions). Bounded ones for every gauge window;
   * unbounded ones (issuers, tickers: many groups, expensive to read) for the shortest only.
   */
  gaugeDimensions: ReadonlyArray<{ name: string; bounded: boolean }>;
  /** Windows exported as gauges. */
  gaugeWindows: readonly number[];
  /** How long resolved alerts are kept (for late readers and re-notification); default 1 h. */
  resolvedRetentionMs?: number;
  /**
   * The clock of alert states (`for`, pending/firing/resolved times, retention). `wall` (default):
   * the replica's clock, as Prometheus does. `event`: the evaluation watermark (idlePartitionMs), the clock the
   * windows themselves run on, so that a replay or backfill faster than real time gives the same
   * alert timeline (in event time) as live traffic: "held for 5 minutes" means 5 minutes of traffic,
   * whatever the replay speed or the pipeline's lag. Under `event`, a round evaluates at every bucket
   * end the watermark passed since the previous round, in order (at most MAX_STEPS_PER_ROUND), so no
   * stretch of event time is skipped when it arrives faster than rounds run; alert times are those
   * bucket ends. Rules are stepped only once statistics exist, and time stands still while no
   * traffic arrives. The leader lease always runs on the wall clock.
   */
  clock?: 'wall' | 'event';
  /**
   * Windows are read as of the lowest watermark of the input partitions that are still advancing,
   * not of the highest: while some partitions run behind (a backlog, a replay, a slow consumer of a
   * topic with long texts), a window as of the highest watermark would lack their latest documents
   * and skew every mix-based figure (fairness across sources, drift of length or kind). A partition
   * whose watermark has not moved for this long (wall time) and has no records waiting (consumer lag
   * 0, from `pipelineSignals`) is idle and no longer holds windows back, as Flink's watermark
   * idleness does; when all are idle the highest watermark is used. Default 30 s.
   */
  idlePartitionMs?: number;
  /**
   * Grace period (config.stats.allowedLateness): windows are judged as of the active partitions'
   * event clock less this, so a window is judged once records up to the lateness after its end had
   * their chance to count (src/stats/event-time.ts judgedWatermark, docs/guarantees.md#event-time).
   * Waived when every partition is idle: nothing more is arriving. Default 0.
   */
  graceMs?: number;
  now?: () => number;
}

export interface EvaluationResult {
  outcome: 'follower' | 'ok' | 'fenced';
  transitions: Transition[];
  published: number;
}

export class Evaluator {
  readonly lease: LeaderLease;
  private readonly store: AlertStateStore;
  private readonly rulesByName: Map<string, AlertRuleConfig>;
  private timer: NodeJS.Timeout | undefined;
  /** Rounds are serialised: two overlapping rounds of one replica would step the same stored state twice. */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;
  /** Highest watermark this replica has stepped alerts at (clock `event`): event time never goes back. */
  private eventNowMs = 0;
  /** Last watermark seen per partition and when (wall) it last moved: idle partitions are left out. */
  private readonly partitionProgress = new Map<string, { watermarkMs: number; movedAtMs: number }>();
  /** The evaluation watermark never goes back (a partition that resumes behind the others waits). */
  private evaluationWatermarkMs = 0;
  /** CUSUM rules' state (in memory: a replica that becomes leader starts them at 0). */
  private readonly sequential = new Map<string, SequentialState>();
  /** A required publisher failed this round: no more outbox flushes until the next round. */
  private outboxBlocked = false;
  /** Outbox entries already given to the best-effort publishers (until acknowledged). */
  private readonly sentBestEffort = new Set<string>();
  /** Trailing sources of rules' own references, by reference length. */
  private readonly ownReferenceSources = new Map<number, ReferenceSource>();
  private readonly pastWindowsSource: PastWindowsSource;
  /** The (dimension, window) pairs whose past windows the rules need (the surge rule's). */
  private readonly pastWindowsNeeded: ReturnType<typeof pastWindowsNeeded>;

  constructor(private readonly options: EvaluatorOptions) {
    this.pastWindowsSource = new PastWindowsSource(options.windows);
    this.pastWindowsNeeded = pastWindowsNeeded(options.rules);
    for (const rule of options.rules) {
      const problem = validateRule(rule);
      if (problem) throw new Error(problem);
    }
    this.rulesByName = new Map(options.rules.map((r) => [r.name, r]));
    if (this.rulesByName.size !== options.rules.length)
      throw new Error('alerts.rules: rule names must be unique');
    this.now = options.now ?? Date.now;
    this.store = options.store;
    this.lease = options.lease;
    this.lease.listen({
      onChange: (leader, token) => {
        options.metrics?.leader(leader, token);
        options.logger?.info(
          { replica: this.lease.replicaId, leader, token },
          leader ? 'evaluator: became leader' : 'evaluator: lost leadership',
        );
      },
      onError: (err) => options.logger?.warn({ err }, 'evaluator: leader lease error'),
    });
  }

  get replicaId(): string {
    return this.lease.replicaId;
  }

  /** The event time alert states were last stepped at (clock `event`; 0 before the first step). */
  get eventTimeMs(): number {
    return this.eventNowMs;
  }

  start(): void {
    this.lease.start();
    let busy = false;
    const tick = () => {
      if (busy) return; // a slow round is not queued up behind itself
      busy = true;
      this.evaluateOnce()
        .catch((err: unknown) => {
          this.options.metrics?.evaluation('error', 0);
          this.options.logger?.error({ err }, 'evaluator: evaluation failed');
        })
        .finally(() => {
          busy = false;
        });
    };
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops evaluating; `release` hands the lease back at once (graceful shutdown). */
  async stop(release = true): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.chain.catch(() => undefined);
    await this.lease.stop(release);
  }

  /** One evaluation round; a no-op on followers. Exposed for tests and `finsentry evaluate --once`. */
  evaluateOnce(): Promise<EvaluationResult> {
    const round = this.chain.catch(() => undefined).then(() => this.evaluateRound());
    this.chain = round;
    return round;
  }

  private async evaluateRound(): Promise<EvaluationResult> {
    const term = this.lease.current();
    if (!term) return { outcome: 'follower', transitions: [], published: 0 };
    const started = performance.now();
    const wallMs = this.now();
    // A predecessor (or our own failed publish) may have left committed but unpublished events.
    this.outboxBlocked = false;
    let published = await this.flushOutbox();

    const pipeline = this.options.pipelineSignals ? await this.options.pipelineSignals() : null;
    const watermarkMs = await this.evaluationWatermark(pipeline?.partitionLag);
    const bucketMs = this.options.bucketMs;
    // Windows of complete buckets: the bucket the watermark is in is still filling, and with it a
    // "5 minutes" window would hold anything from 4 to 5 minutes of traffic — counts near a rule's
    // min samples would then swing in and out of judgement with the bucket phase, and a pending
    // alert would fall back to inactive every time a new bucket starts.
    const completeEndMs = watermarkMs > 0 ? windowEndFor(watermarkMs, bucketMs) - bucketMs : 0;

    // The (window end, clock) pairs to evaluate this round. Wall clock: now, once. Event clock: every
    // bucket end the watermark passed since the last round, in order, so that no stretch of event
    // time goes unevaluated however fast it arrives (a replay, a backlog) or however slow a round is.
    let steps: Array<{ endMs: number; nowMs: number }>;
    if (this.options.clock === 'event') {
      // No statistics yet: there is no event time to step alert states at.
      if (completeEndMs <= 0) {
        this.options.metrics?.evaluation('ok', (performance.now() - started) / 1000, wallMs);
        return { outcome: 'ok', transitions: [], published };
      }
      steps = [];
      const from = this.eventNowMs > 0 ? this.eventNowMs + bucketMs : completeEndMs;
      for (let end = from; end <= completeEndMs && steps.length < MAX_STEPS_PER_ROUND; end += bucketMs)
        steps.push({ endMs: end, nowMs: end });
      // Nothing new: evaluate at the same instant again (pipeline rules, gauges).
      if (steps.length === 0) steps.push({ endMs: this.eventNowMs, nowMs: this.eventNowMs });
    } else {
      steps = [{ endMs: completeEndMs, nowMs: wallMs }];
    }

    const transitions: Transition[] = [];
    let last:
      | {
          inputs: EvaluationInputs;
          upserts: AlertRecord[];
          deletes: string[];
          stored: ReadonlyMap<string, AlertRecord>;
        }
      | undefined;
    for (const stepAt of steps) {
      // Gauges are exported once, after the last step: earlier steps read only what rules need.
      const inputs = await this.readInputs(stepAt.endMs, pipeline, stepAt === steps[steps.length - 1]);
      const stored = await this.store.load();
      const stepped = this.stepAll(inputs, stored, stepAt.nowMs);
      const stories = await this.storyIds(stepped.transitions, stepAt.endMs);
      const events = stepped.transitions.map((t) =>
        toAlertEvent(this.rulesByName.get(t.record.rule)!, t, term.token, stories.get(t)),
      );
      if (
        !this.lease.current() ||
        !(await this.store.commit(term, stepped.upserts, stepped.deletes, events))
      ) {
        this.options.metrics?.evaluation('fenced', (performance.now() - started) / 1000);
        this.options.logger?.warn(
          { replica: this.replicaId, token: term.token },
          'evaluator: fenced out, state not written',
        );
        return { outcome: 'fenced', transitions, published };
      }
      if (this.options.clock === 'event') this.eventNowMs = stepAt.nowMs;
      for (const t of stepped.transitions) {
        this.options.metrics?.alertTransition(t.record.rule, t.record.severity, t.to);
        this.options.logger?.info(
          {
            rule: t.record.rule,
            dimension: t.record.dimension,
            group: t.record.group,
            from: t.from,
            to: t.to,
            value: t.record.value,
            fingerprint: t.record.fingerprint,
          },
          'alert state change',
        );
      }
      transitions.push(...stepped.transitions);
      published += await this.flushOutbox();
      last = { inputs, upserts: stepped.upserts, deletes: stepped.deletes, stored };
    }
    if (last) this.exportGauges(last.inputs, last.upserts, last.deletes, last.stored, term);
    this.options.metrics?.evaluatedUntil(steps[steps.length - 1]!.endMs);
    this.options.metrics?.evaluation('ok', (performance.now() - started) / 1000, wallMs);
    return { outcome: 'ok', transitions, published };
  }

  /**
   * Story ids of the surge alerts going firing in this step: the group's most negative stories in the
   * rule's window (docs/alerting.md "Surge"). A failed read loses the ids, never the alert.
   */
  private async storyIds(
    transitions: readonly Transition[],
    endMs: number,
  ): Promise<Map<Transition, string[]>> {
    const out = new Map<Transition, string[]>();
    const reader = this.options.stories;
    if (!reader) return out;
    for (const t of transitions) {
      const rule = this.rulesByName.get(t.record.rule)!;
      if (t.to !== 'firing' || rule.metric !== SURGE_METRIC) continue;
      try {
        const top = await reader.topNegative({
          dimension: t.record.dimension,
          group: t.record.group,
          windowMs: rule.window,
          endMs,
          limit: ALERT_STORY_LIMIT,
        });
        if (top.length > 0)
          out.set(
            t,
            top.map((e) => e.storyId),
          );
      } catch (err) {
        this.options.logger?.warn(
          { err, rule: rule.name },
          'evaluator: story ids not read; alert sent without them',
        );
      }
    }
    return out;
  }

  /**
   * Publishes the outbox in chunks of OUTBOX_CHUNK events, acknowledging each chunk once the required
   * publishers (Kafka) accepted it. A failing required publisher (the alerts topic down) does not abort
   * the round: the rest stays in the outbox for the next round and evaluation goes on — state, gauges
   * and the best-effort webhook, which gets each event once, without waiting for Kafka
   * (docs/alerting.md "Alert outbox"). Every flush of the round after a failure is skipped.
   */
  private async flushOutbox(): Promise<number> {
    if (this.outboxBlocked) return 0;
    const entries: OutboxEntry[] = await this.store.outbox();
    this.options.metrics?.alertOutbox?.(entries.length);
    if (entries.length === 0) return 0;
    let published = 0;
    for (let i = 0; i < entries.length; i += OUTBOX_CHUNK) {
      const chunk = entries.slice(i, i + OUTBOX_CHUNK);
      // Never publish without a valid lease: the local deadline (monotonic) and the fence in the store.
      const term = this.lease.current();
      if (!term || !(await this.store.holds(term))) {
        this.options.logger?.warn(
          { replica: this.replicaId, pending: entries.length - published },
          'evaluator: not the fenced leader, outbox not published',
        );
        return published;
      }
      await this.publishBestEffort(chunk);
      const events = chunk.map((e) => e.event);
      try {
        for (const p of this.options.publishers) {
          if (p.bestEffort) continue;
          await p.openTerm?.(term);
          await p.publish(events);
        }
      } catch (err) {
        this.outboxBlocked = true;
        this.options.metrics?.alertOutbox?.(entries.length - published, true);
        this.options.logger?.warn(
          { err, pending: entries.length - published },
          'evaluator: publishing alert events failed; they stay in the outbox and are retried next round',
        );
        return published;
      }
      await this.store.acknowledge(chunk);
      for (const e of chunk) this.sentBestEffort.delete(e.raw);
      published += chunk.length;
    }
    this.options.metrics?.alertOutbox?.(0);
    return published;
  }

  /** Best-effort publishers (the webhook) get each outbox entry once, whether Kafka takes it or not. */
  private async publishBestEffort(chunk: readonly OutboxEntry[]): Promise<void> {
    const fresh = chunk.filter((e) => !this.sentBestEffort.has(e.raw));
    if (fresh.length === 0) return;
    for (const e of fresh) this.sentBestEffort.add(e.raw);
    const events = fresh.map((e) => e.event);
    for (const p of this.options.publishers) {
      if (!p.bestEffort) continue;
      try {
        await p.publish(events);
      } catch (err) {
        this.options.logger?.warn(
          { err, events: events.length },
          'evaluator: best-effort alert publisher failed (events still go to Kafka)',
        );
      }
    }
  }

  /** The watermark windows are read at: see EvaluatorOptions.idlePartitionMs. */
  private async evaluationWatermark(partitionLag?: Readonly<Record<string, number>>): Promise<number> {
    const { windows } = this.options;
    if (!windows.partitionWatermarks) return windows.watermark();
    const byPartition = await windows.partitionWatermarks();
    const wallMs = this.now();
    const idleMs = this.options.idlePartitionMs ?? 30_000;
    const active: number[] = [];
    let highest = 0;
    for (const [partition, watermarkMs] of byPartition) {
      if (watermarkMs <= 0) continue;
      highest = Math.max(highest, watermarkMs);
      const seen = this.partitionProgress.get(partition);
      if (!seen || seen.watermarkMs !== watermarkMs)
        this.partitionProgress.set(partition, { watermarkMs, movedAtMs: wallMs });
      // A partition with records still waiting is behind, not idle, however long it has not moved.
      const waiting = (partitionLag?.[partition] ?? 0) > 0;
      if (waiting || wallMs - (this.partitionProgress.get(partition)?.movedAtMs ?? wallMs) < idleMs)
        active.push(watermarkMs);
    }
    const grace = this.options.graceMs ?? 0;
    const candidate = active.length > 0 ? judgedWatermark(Math.min(...active), grace) : highest;
    this.evaluationWatermarkMs = Math.max(this.evaluationWatermarkMs, candidate);
    return this.evaluationWatermarkMs;
  }

  /** The windows every rule and gauge needs, ending at `endMs` (0: nothing stored yet). */
  private async readInputs(
    endMs: number,
    pipeline: PipelineSignals | null,
    withGauges: boolean,
  ): Promise<EvaluationInputs> {
    const { windows, reference, rules } = this.options;
    const needed = new Map<string, { dimension: string; windowMs: number }>();
    for (const w of requiredWindows(rules)) needed.set(windowKey(w.dimension, w.windowMs), w);
    if (withGauges)
      for (const { dimension, windowMs } of this.gaugeReads())
        needed.set(windowKey(dimension, windowMs), { dimension, windowMs });
    const current = new Map<string, GroupWindowStats[]>();
    const ref = new Map<string, GroupWindowStats[]>();
    if (endMs > 0) {
      await Promise.all(
        [...needed].map(async ([key, w]) => {
          const [c, r] = await Promise.all([
            windows.readWindow({ dimension: w.dimension, windowMs: w.windowMs, endMs }),
            reference.read(w.dimension, w.windowMs, endMs),
          ]);
          // The cardinality budget's fold is no group: no rule or group gauge judges it.
          current.set(key, withoutFoldedGroup(c));
          ref.set(key, withoutFoldedGroup(r));
        }),
      );
    }
    if (endMs > 0) await this.readOwnReferences(endMs, ref);
    const past = endMs > 0 ? await this.readPastWindows(endMs) : new Map<string, GroupWindowStats[][]>();
    const baseline = this.options.baseline ? await this.options.baseline() : null;
    return { current, reference: ref, past, pipeline, baseline, endMs, sequential: this.sequential };
  }

  /** The surge rule's past windows (baseline dispersion, ./past-windows.ts), kept between rounds. */
  private async readPastWindows(endMs: number): Promise<Map<string, GroupWindowStats[][]>> {
    const past = new Map<string, GroupWindowStats[][]>();
    const source = this.pastWindowsSource;
    await Promise.all(
      this.pastWindowsNeeded.map(
        async (w) => void past.set(w.key, await source.read(w.dimension, w.windowMs, endMs)),
      ),
    );
    return past;
  }

  /**
   * Rules with their own `referenceWindow` (the surge rule: 24 h of each issuer's own history) read
   * that trailing window ending where their window starts, from the window store itself whatever the
   * configured reference, as a running sum updated bucket by bucket (./sliding-reference.ts).
   */
  private async readOwnReferences(endMs: number, into: Map<string, GroupWindowStats[]>): Promise<void> {
    await Promise.all(
      ownReferences(this.options.rules).map(async (r) => {
        let source = this.ownReferenceSources.get(r.referenceMs);
        if (!source)
          this.ownReferenceSources.set(
            r.referenceMs,
            (source = slidingReference(this.options.windows, r.referenceMs)),
          );
        into.set(r.key, await source.read(r.dimension, r.windowMs, endMs));
      }),
    );
  }

  /** (dimension, window) pairs exported as gauges: see `gaugeDimensions`. */
  private gaugeReads(): Array<{ dimension: string; windowMs: number; bounded: boolean }> {
    const windows = [...this.options.gaugeWindows].sort((a, b) => a - b);
    const out: Array<{ dimension: string; windowMs: number; bounded: boolean }> = [];
    for (const d of [...this.options.gaugeDimensions, { name: ALL_DIMENSION, bounded: true }]) {
      for (const windowMs of d.bounded ? windows : windows.slice(0, 1))
        out.push({ dimension: d.name, windowMs, bounded: d.bounded });
    }
    return out;
  }

  private stepAll(inputs: EvaluationInputs, stored: ReadonlyMap<string, AlertRecord>, nowMs: number) {
    const upserts: AlertRecord[] = [];
    const deletes: string[] = [];
    const transitions: Transition[] = [];
    const retention = this.options.resolvedRetentionMs ?? 3_600_000;
    for (const rule of this.options.rules) {
      if (rule.kind === 'pipeline' && !inputs.pipeline) continue;
      const measurements = measureRule(rule, inputs, this.options.minSamples);
      for (const id of identitiesToStep(measurements, stored, rule.name)) {
        const { next, transition } = step(rule, id.prev, id.measurement, nowMs);
        if (transition) transitions.push(transition);
        if (!next) continue;
        if (next.state === 'inactive') {
          if (id.prev) deletes.push(id.fingerprint); // the episode ended before firing: nothing to remember
        } else if (next.state === 'resolved' && !transition) {
          if (nowMs - (next.endedAtMs ?? nowMs) > retention) deletes.push(id.fingerprint);
        } else {
          upserts.push(next);
        }
      }
    }
    // Records of rules that were removed from the config: forget them.
    for (const [fingerprint, record] of stored)
      if (!this.rulesByName.has(record.rule)) deletes.push(fingerprint);
    return { upserts, deletes, transitions };
  }

  private exportGauges(
    inputs: EvaluationInputs,
    upserts: readonly AlertRecord[],
    deletes: readonly string[],
    stored: ReadonlyMap<string, AlertRecord>,
    term: LeaderTerm,
  ): void {
    const metrics = this.options.metrics;
    if (!metrics) return;
    metrics.leader(true, term.token);
    const records = new Map(stored);
    for (const d of deletes) records.delete(d);
    for (const u of upserts) records.set(u.fingerprint, u);
    const pinned = new Map<string, string[]>();
    const counts = new Map<string, AlertStateCount>();
    for (const rule of this.options.rules) {
      for (const state of ['pending', 'firing'] as const)
        counts.set(`${rule.name}|${state}`, { rule: rule.name, severity: rule.severity, state, count: 0 });
    }
    for (const r of records.values()) {
      if (r.state !== 'pending' && r.state !== 'firing') continue;
      const c = counts.get(`${r.rule}|${r.state}`);
      if (c) c.count++;
      pinned.set(r.dimension, [...(pinned.get(r.dimension) ?? []), r.group]);
    }
    metrics.alertStates([...counts.values()]);
    metrics.alertIdentities(activeAlertIdentities(records.values(), this.rulesByName));
    for (const { dimension, windowMs } of this.gaugeReads()) {
      const key = windowKey(dimension, windowMs);
      const current = inputs.current.get(key);
      if (!current) continue;
      if (dimension === ALL_DIMENSION) {
        for (const d of driftResults(current, inputs.reference.get(key) ?? [])) {
          metrics.drift(d.feature, windowMs, {
            psi: d.psi ?? Number.NaN,
            jsDistance: d.jensenShannon ?? Number.NaN,
            ksStatistic: d.ks?.statistic ?? Number.NaN,
          });
        }
        continue;
      }
      metrics.groupSentiment(
        dimension,
        windowMs,
        groupSentiment(current, inputs.reference.get(key), this.options.minSamples),
        pinned.get(dimension) ?? [],
      );
      metrics.fairness(dimension, windowMs, {
        ...fairnessSample(
          fairnessReport(dimension, current, { minSamples: this.options.minSamples }),
          undefined,
          fairnessGaugeConfidence(this.options.rules, dimension),
        ),
        ...equalizedOddsSample(this.options.rules, dimension, current, this.options.minSamples),
      });
    }
  }
}
