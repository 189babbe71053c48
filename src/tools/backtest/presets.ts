import type { ScenarioOptions } from '../scenarios/generate.js';
import { REALISTIC_TRAFFIC } from '../scenarios/realism.js';
import { selectUniverse } from '../scenarios/generate.js';

/**
 * The traffic of the targets (docs/alerting.md "Backtest"): realistic news (syndication λ,
 * Zipf volume over `issuers`, issuer base rates, daily cycle, 60 s mean arrival delay, coverage
 * bursts), `ratePerMinute` documents a minute on average. Future-stamped records are left out: what a
 * +30 min stamp does to the watermark is event-time handling (issue section 5), not a rule's
 * false-alarm rate.
 */
export interface TrafficPreset {
  days: number;
  ratePerMinute: number;
  issuers: number;
  lambda: number;
  seed: number;
  startMs: number;
}

export const DEFAULT_PRESET: TrafficPreset = {
  days: 3,
  ratePerMinute: 300,
  issuers: 500,
  lambda: 1.5,
  seed: 1,
  startMs: Date.UTC(2026, 0, 5),
};

function base(p: TrafficPreset): Omit<ScenarioOptions, 'name'> {
  return {
    seed: p.seed,
    startMs: p.startMs,
    durationMs: Math.round(p.days * 86_400_000),
    // ratePerMinute counts every document, republications included: originals come at
    // rate / (1 + newsShare·λ) (news is 0.4 of originals, each republished λ times on average).
    ratePerSecond: p.ratePerMinute / 60 / (1 + 0.4 * p.lambda),
    universeSize: p.issuers,
    realism: {
      ...REALISTIC_TRAFFIC,
      syndicationLambda: p.lambda,
      futureShare: 0,
      coverageBursts: { ...REALISTIC_TRAFFIC.coverageBursts, count: Math.max(1, Math.round(2 * p.days)) },
    },
  };
}

/** Nothing planted but coverage bursts with unchanged tone: every alert is a false one. */
export function nullTraffic(p: TrafficPreset): ScenarioOptions {
  return { name: 'clean', ...base(p) };
}

/**
 * One well-covered issuer (rank `rank` by coverage, default 3rd: about 8 documents a minute at 300/min over 500
 * issuers) goes from its base rate to `peak` negative for `minutes`, coverage unchanged, starting
 * `startAfterMs` into the run.
 */
export function surgeTraffic(
  p: TrafficPreset,
  o: { rank?: number; peak?: number; minutes?: number; startAfterMs?: number } = {},
): ScenarioOptions {
  const b = base(p);
  const issuer = selectUniverse(p.issuers)[(o.rank ?? 3) - 1]!;
  const fromMs = p.startMs + (o.startAfterMs ?? Math.round(b.durationMs / 2));
  return {
    name: 'issuer-surge',
    ...b,
    realism: { ...b.realism, coverageBursts: { count: 0, multiplier: 1, durationMs: 60_000 } },
    surge: {
      ticker: issuer.ticker,
      fromMs,
      toMs: fromMs + (o.minutes ?? 20) * 60_000,
      rampMs: 60_000,
      peakMultiplier: 1,
      peakNegativeShare: o.peak ?? 0.7,
    },
  };
}
