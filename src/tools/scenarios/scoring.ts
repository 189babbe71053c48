import type { ExpectedAlert, GroundTruth, ToleratedAlert } from './ground-truth.js';

/**
 * Scores what a finsentry run raised against a scenario's ground truth: for each expected alert, was
 * it detected, with what delay after the injected event started (event time), did it resolve in time;
 * and which raised alerts no injected event explains (false alerts). Pure, so scenario tests and the
 * demo summary share one definition.
 *
 * Observed alerts are episodes with times on the event-time axis of the scenario; callers whose alert
 * events carry evaluator wall-clock times map them to event time first (e.g. with the watermark the
 * evaluator saw at that moment).
 */
export interface ObservedAlert {
  rule: string;
  dimension: string | null;
  group: string | null;
  feature?: string | null;
  /** First time the episode was firing (event time); null if it was only ever pending. */
  firingAtMs: number | null;
  /** When it resolved (event time); null if still firing at the end. */
  resolvedAtMs: number | null;
}

export interface DetectionScore {
  expected: ExpectedAlert;
  detected: boolean;
  /** firing − injected start; null when not detected. */
  delayMs: number | null;
  withinAllowance: boolean;
  /** resolved − injected end; null when not resolved (or not expected to). */
  resolveDelayMs: number | null;
  resolvedInTime: boolean | null;
  matched: ObservedAlert[];
}

export interface ScenarioScore {
  detections: DetectionScore[];
  falseAlerts: ObservedAlert[];
  /** Alerts no expected alert explains but the ground truth tolerates (reported, not false). */
  tolerated: ObservedAlert[];
  /** True when every expected alert was detected within its allowance and nothing else fired. */
  pass: boolean;
}

export interface ScoreOptions {
  /** Rules ignored as false alerts (e.g. consumer lag while a test floods the topic). */
  ignoreRules?: readonly string[];
}

/**
 * Fairness alerts are about a dimension as a whole: they may name no group, or either extreme (the
 * biased group or the one it is compared with), so any group of the right dimension matches.
 */
function matches(expected: ExpectedAlert, observed: ObservedAlert): boolean {
  if (observed.rule !== expected.rule) return false;
  if (
    expected.dimension !== undefined &&
    observed.dimension !== null &&
    observed.dimension !== expected.dimension
  )
    return false;
  if (expected.kind === 'fairness') return true;
  if (
    expected.group !== undefined &&
    observed.group !== expected.group &&
    !(observed.group !== null && expected.aliases?.includes(observed.group))
  )
    return false;
  if (expected.feature !== undefined && observed.feature != null && observed.feature !== expected.feature)
    return false;
  return true;
}

function tolerates(t: ToleratedAlert, o: ObservedAlert): boolean {
  if (o.rule !== t.rule || o.firingAtMs === null || o.firingAtMs < t.fromMs) return false;
  if (t.feature !== undefined && o.feature != null && o.feature !== t.feature) return false;
  if (t.dimension !== undefined && o.dimension !== null && o.dimension !== t.dimension) return false;
  return true;
}

export function scoreScenario(
  truth: Pick<GroundTruth, 'expectedAlerts' | 'toleratedAlerts'>,
  observed: readonly ObservedAlert[],
  options: ScoreOptions = {},
): ScenarioScore {
  const ignore = new Set(options.ignoreRules ?? []);
  const fired = observed.filter((o) => o.firingAtMs !== null && !ignore.has(o.rule));
  const explained = new Set<ObservedAlert>();
  const detections = truth.expectedAlerts.map((expected): DetectionScore => {
    // Episodes of the right alert that fired during the injected period (plus its allowance).
    const matched = fired.filter(
      (o) =>
        matches(expected, o) &&
        o.firingAtMs! >= expected.fromMs &&
        o.firingAtMs! <= expected.toMs + expected.detectWithinMs,
    );
    for (const m of matched) explained.add(m);
    const first = matched.reduce<ObservedAlert | null>(
      (a, b) => (a === null || b.firingAtMs! < a.firingAtMs! ? b : a),
      null,
    );
    const delayMs = first ? first.firingAtMs! - expected.fromMs : null;
    const last = matched.reduce<ObservedAlert | null>(
      (a, b) => (a === null || (b.resolvedAtMs ?? Infinity) > (a.resolvedAtMs ?? Infinity) ? b : a),
      null,
    );
    const resolveDelayMs = last && last.resolvedAtMs !== null ? last.resolvedAtMs - expected.toMs : null;
    return {
      expected,
      detected: first !== null,
      delayMs,
      withinAllowance: delayMs !== null && delayMs <= expected.detectWithinMs,
      resolveDelayMs,
      resolvedInTime:
        expected.resolveWithinMs === null
          ? null
          : resolveDelayMs !== null && resolveDelayMs <= expected.resolveWithinMs,
      matched,
    };
  });
  const unexplained = fired.filter((o) => !explained.has(o));
  const tolerated = unexplained.filter((o) => (truth.toleratedAlerts ?? []).some((t) => tolerates(t, o)));
  const falseAlerts = unexplained.filter((o) => !tolerated.includes(o));
  const pass =
    detections.every((d) => d.withinAllowance && d.resolvedInTime !== false) && falseAlerts.length === 0;
  return { detections, falseAlerts, tolerated, pass };
}
