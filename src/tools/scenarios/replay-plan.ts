import { existsSync } from 'node:fs';
import type { FinsentryConfig } from '../../config/schema.js';
import { schemaIdsFromConfig } from './encoding.js';
import {
  generateScenario,
  type ScenarioOptions,
  type ScenarioMessage,
  type ScenarioRun,
} from './generate.js';
import type { ScenarioName } from './ground-truth.js';
import type { ReplayMessage } from './recorded.js';
import type { TruthFileWriter } from './replay.js';

/**
 * The replay plan shared by `finsentry replay` and `finsentry demo`: how wall-clock rate, speedup and
 * event-time span turn into a generated scenario.
 *
 * Clocks: `rate` is the wall-clock production rate (messages per real second); event time advances
 * `speedup` times faster than wall time, so the scenario is generated with rate / speedup documents
 * per event-time second and `durationMs` (event time) takes durationMs / speedup of wall time. By
 * default the event times start at now − duration + duration / speedup: every message is sent at or
 * after its own event time and the last one is about "now", so no event time is in the future of the
 * consumer's clock.
 */
export interface ReplayClockOptions {
  /** Event-time span of the scenario. */
  durationMs: number;
  /** Wall-clock messages per second. */
  rate: number;
  /** Event time runs this many times faster than wall time. */
  speedup: number;
  /** Event time of the scenario start (default: now − duration + duration / speedup). */
  startMs?: number;
}

export interface ReplayClock {
  /** Documents per event-time second. */
  eventRate: number;
  startMs: number;
  endMs: number;
  /** Messages the plan expects (arrivals are random: an estimate until the generator is done). */
  plannedTotal: number;
}

export interface ReplayPlanOptions extends ReplayClockOptions {
  scenario: ScenarioName;
  seed: number;
  universe: number | undefined;
  /** With `models`, effects planted in languages its models.languages lacks expect no alert (unscored). */
  config: Pick<FinsentryConfig, 'codec' | 'limits'> & Partial<Pick<FinsentryConfig, 'models'>>;
  /** Alert rules the ground truth's expected alerts are derived from. */
  rules: NonNullable<ScenarioOptions['rules']>;
  poison?: ScenarioOptions['poison'];
  labels?: ScenarioOptions['labels'];
  /** Chinese-language traffic (default: the scenario's). */
  zh?: ScenarioOptions['zh'];
  /** Realistic traffic knobs (src/tools/scenarios/realism.ts; default: all off). */
  realism?: ScenarioOptions['realism'];
  /** The planted regional disparity of bias scenarios (default: the generator's). */
  bias?: ScenarioOptions['bias'];
}

export interface ReplayPlan extends ReplayClock {
  run: ScenarioRun;
}

/** Messages planned for `durationMs` of event time at `rate / speedup` documents per event-second. */
export function plannedMessages(o: Omit<ReplayClockOptions, 'startMs'>): number {
  return Math.round((o.durationMs / 1000) * (o.rate / o.speedup));
}

export function replayClock(o: ReplayClockOptions, nowMs = Date.now()): ReplayClock {
  const startMs = o.startMs ?? nowMs - o.durationMs + Math.round(o.durationMs / o.speedup);
  return {
    eventRate: o.rate / o.speedup,
    startMs,
    endMs: startMs + o.durationMs,
    plannedTotal: plannedMessages(o),
  };
}

export function planReplay(o: ReplayPlanOptions, nowMs = Date.now()): ReplayPlan {
  const clock = replayClock(o, nowMs);
  const run = generateScenario({
    name: o.scenario,
    seed: o.seed,
    startMs: clock.startMs,
    durationMs: o.durationMs,
    ratePerSecond: clock.eventRate,
    universeSize: o.universe,
    schemaIds: schemaIdsFromConfig(o.config.codec.schemaIds),
    limits: { maxMessageBytes: o.config.limits.maxMessageBytes, maxTextChars: o.config.limits.maxTextChars },
    ...(o.poison ? { poison: o.poison } : {}),
    ...(o.labels ? { labels: o.labels } : {}),
    ...(o.zh ? { zh: o.zh } : {}),
    ...(o.realism ? { realism: o.realism } : {}),
    ...(o.bias ? { bias: o.bias } : {}),
    ...(o.config.models ? { scoredLanguages: scoredLanguages(o.config.models) } : {}),
    rules: o.rules,
  });
  return { ...clock, run };
}

/** A replayed scenario message; `line` is the generated message (for --dry-run's JSONL). */
export type PlannedMessage = ReplayMessage & { id: string; line: ScenarioMessage };

/** The plan's messages for replayMessages; each document's truth goes to `truth` as it is produced. */
export async function* replaySource(
  run: ScenarioRun,
  truth: TruthFileWriter | null = null,
): AsyncGenerator<PlannedMessage> {
  for (const m of run.messages) {
    if (truth && m.topic !== 'labels') {
      await truth.add({
        id: m.id,
        topic: m.topic,
        eventTimeMs: m.eventTimeMs,
        truth: m.truth,
        region: m.issuer.region,
        ticker: m.issuer.ticker,
        ...(m.poison ? { poison: m.poison } : {}),
      });
    }
    yield {
      topic: m.topic,
      key: m.key,
      value: m.value,
      headers: m.headers,
      eventTimeMs: m.eventTimeMs,
      id: m.id,
      line: m,
    };
  }
}

/**
 * Languages some configured model reads: models.languages (the pair) and the languages of each model
 * set whose directory is there (an optional set that is absent scores nothing, src/inference/model-sets.ts).
 */
function scoredLanguages(models: FinsentryConfig['models']): string[] {
  const sets = models.sets.filter((set) => !set.optional || existsSync(set.path));
  return [...models.languages, ...sets.flatMap((set) => set.languages)];
}
