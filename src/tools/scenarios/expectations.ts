import { defaultAlertRules } from '../../alerts/default-rules.js';
import { compare } from '../../alerts/state-machine.js';
import { SURGE_METRIC } from '../../config/rules.js';
import type { AlertRuleConfig } from '../../config/schema.js';
import type { ExpectedAlert, InjectedEvent, ToleratedAlert } from './ground-truth.js';

/**
 * Which alerts a correct finsentry raises for the injected events, derived from the alert rules in
 * force (default: the shipped rules), so that the expectations follow the rules instead of
 * hard-coding their names. Detection allowances are in event time:
 *  - surge: the ramp, then one full rule window of surge traffic, the rule's `for`, 2 min slack;
 *  - bias: present from the start, so the rule's `for` plus 15 min for groups to reach min_samples;
 *  - drift: the whole transition, one rule window and `for`;
 *  - poison (dead-letter share): one window, `for` and 2 min slack.
 * Resolution is expected within one window plus `for` plus 5 min after an effect that ends before the
 * run does, when the run lasts long enough to see it; effects that last to the end of the run (or end
 * too close to it) may stay firing (resolveWithinMs null).
 */
const SLACK_MS = 120_000;

function resolveAllowance(rule: AlertRuleConfig, event: InjectedEvent, runEndMs: number): number | null {
  const allowance = rule.window + rule.for + 300_000;
  return event.toMs + allowance > runEndMs ? null : allowance;
}

/** `runEndMs`: end of the run (event time); without it, the latest end of an injected event. */
export function expectedAlertsFor(
  injected: readonly InjectedEvent[],
  rules: readonly AlertRuleConfig[] = defaultAlertRules(),
  runEndMs: number = Math.max(0, ...injected.map((e) => e.toMs)),
): ExpectedAlert[] {
  const out: ExpectedAlert[] = [];
  for (const rule of rules) {
    for (const event of injected) {
      const base = { rule: rule.name, kind: rule.kind, fromMs: event.fromMs, toMs: event.toMs };
      if (
        event.kind === 'surge' &&
        rule.kind === 'sentiment' &&
        (rule.metric === 'negative_share' || rule.metric === SURGE_METRIC) &&
        (rule.comparison === '>' || rule.comparison === '>=')
      ) {
        for (const g of event.groups.filter((x) => x.dimension === rule.dimension)) {
          out.push({
            ...base,
            dimension: g.dimension,
            group: g.group,
            ...(g.aliases?.length ? { aliases: g.aliases } : {}),
            detectWithinMs: Number(event.params.rampMs ?? 0) + rule.window + rule.for + SLACK_MS,
            resolveWithinMs: resolveAllowance(rule, event, runEndMs),
          });
        }
      }
      // A compliant gap (true ratio at or above the rule's threshold, e.g. 0.85–0.95 against the
      // four-fifths rule) must not fire: it is planted to catch rules that test "equal rates" instead.
      const ratio = Number(event.params.expectedDisparateImpact ?? 0);
      if (
        event.kind === 'bias' &&
        rule.kind === 'fairness' &&
        rule.metric === 'disparate_impact_ratio' &&
        compare(ratio, rule.comparison, rule.threshold)
      ) {
        for (const g of event.groups.filter((x) => x.dimension === rule.dimension)) {
          out.push({
            ...base,
            dimension: g.dimension,
            group: g.group,
            detectWithinMs: rule.for + 900_000,
            resolveWithinMs: resolveAllowance(rule, event, runEndMs),
          });
        }
      }
      if (
        event.kind === 'drift' &&
        rule.kind === 'drift' &&
        rule.feature &&
        event.features?.includes(rule.feature)
      ) {
        out.push({
          ...base,
          feature: rule.feature,
          detectWithinMs: event.toMs - event.fromMs + rule.window + rule.for,
          resolveWithinMs: null,
        });
      }
      if (
        event.kind === 'poison' &&
        rule.kind === 'pipeline' &&
        rule.metric === 'dlq_share' &&
        (rule.comparison === '>' || rule.comparison === '>=') &&
        Number(event.params.share) > rule.threshold
      ) {
        out.push({ ...base, detectWithinMs: rule.window + rule.for + SLACK_MS, resolveWithinMs: null });
      }
    }
  }
  return out;
}

/** Model outputs whose distribution an input drift can move (src/stats/drift.ts feature names). */
const OUTPUT_FEATURES = new Set(['p_neg', 'polarity', 'confidence', 'label_mix']);

/**
 * Alerts the injections may cause through the model (see ToleratedAlert): during and after a drift,
 * output-drift rules (p_neg, polarity, confidence, label mix) and confidence rules — unless the
 * drift event names that feature, in which case the alert is expected instead.
 */
export function toleratedAlertsFor(
  injected: readonly InjectedEvent[],
  rules: readonly AlertRuleConfig[] = defaultAlertRules(),
): ToleratedAlert[] {
  const out: ToleratedAlert[] = [];
  for (const event of injected) {
    if (event.kind !== 'drift') continue;
    for (const rule of rules) {
      const outputDrift =
        rule.kind === 'drift' &&
        OUTPUT_FEATURES.has(rule.feature ?? 'p_neg') &&
        !event.features?.includes(rule.feature ?? 'p_neg');
      const confidence =
        rule.kind === 'sentiment' && ['mean_confidence', 'estimated_accuracy'].includes(rule.metric);
      if (!outputDrift && !confidence) continue;
      out.push({
        rule: rule.name,
        kind: rule.kind,
        ...(rule.kind === 'drift' ? { feature: rule.feature ?? 'p_neg' } : {}),
        ...(rule.dimension ? { dimension: rule.dimension } : {}),
        fromMs: event.fromMs,
        why: "the input drift (longer texts, new vocabulary) can move the model's output distribution; by how much depends on the model",
      });
    }
  }
  return out;
}
