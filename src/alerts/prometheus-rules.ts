import type { AlertRuleConfig } from '../config/schema.js';
import type { AlertRecord } from './state-machine.js';

/**
 * One source of truth for alert decisions (docs/alerting.md, docs/runbooks.md): Prometheus does not
 * re-derive the evaluator's alerts from gauges with its own statistics — it alerts on the evaluator's
 * decision, the `finsentry_alert_state` gauge (1 per firing or pending alert identity, exported by the
 * leader). This module turns the evaluator's rule definitions into that Prometheus rule group; the
 * group in k8s/prometheus/rules.yml is written from it (scripts/dev/prometheus-rules.ts) and
 * test/unit/alerts/prometheus-rules.test.ts fails when they differ.
 *
 * Each Prometheus alert has the evaluator rule's name and the labels the evaluator's own Alertmanager
 * webhook sends (alertname, severity, source, kind, dimension, group — src/alerts/events.ts), so when
 * both deliver, Alertmanager sees one alert, not two under different names. `for` is 0: the evaluator
 * has already applied the rule's `for`, hysteresis and significance; repeating them here would delay
 * the decision and could change it.
 */

export const ALERT_STATE_METRIC = 'finsentry_alert_state';
export const EVALUATOR_RULE_GROUP = 'finsentry-evaluator';

export interface PrometheusAlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface PrometheusRuleGroup {
  name: string;
  rules: PrometheusAlertRule[];
}

/** Label values of the state gauge for an alert identity: as the Alertmanager labels (events.ts). */
export function alertStateLabels(
  kind: AlertRuleConfig['kind'],
  dimension: string,
  group: string,
): { dimension: string; group: string } {
  return { dimension: kind === 'pipeline' ? '' : dimension, group: group === '*' ? '' : group };
}

/** The `finsentry_alert_state` series of the stored alert records (pending and firing only). */
export function activeAlertIdentities(
  records: Iterable<AlertRecord>,
  rules: ReadonlyMap<string, AlertRuleConfig>,
): Array<{ rule: string; severity: string; dimension: string; group: string; state: string }> {
  const out: Array<{ rule: string; severity: string; dimension: string; group: string; state: string }> = [];
  for (const r of records) {
    const rule = rules.get(r.rule);
    if (!rule || (r.state !== 'pending' && r.state !== 'firing')) continue;
    out.push({
      rule: r.rule,
      severity: r.severity,
      state: r.state,
      ...alertStateLabels(rule.kind, r.dimension, r.group),
    });
  }
  return out;
}

function describe(rule: AlertRuleConfig): string {
  const window = `${Math.round(rule.window / 1000)}s`;
  const on = rule.kind === 'drift' ? `feature ${rule.feature ?? 'p_neg'}` : `${rule.metric}`;
  return (
    `The finsentry evaluator decided ${rule.name} (${rule.kind}, ${on} ${rule.comparison} ${rule.threshold} over ${window}` +
    `${rule.for > 0 ? `, held ${Math.round(rule.for / 1000)}s` : ''}); value, interval and groups are on the finsentry.alerts event and in docs/alerting.md.`
  );
}

export function prometheusRuleFor(rule: AlertRuleConfig): PrometheusAlertRule {
  const dimensionWide = rule.kind === 'pipeline' || rule.kind === 'fairness';
  return {
    alert: rule.name,
    expr: `max by (dimension, group) (${ALERT_STATE_METRIC}{rule="${rule.name}",state="firing"}) > 0`,
    for: '0s',
    labels: { severity: rule.severity, source: 'finsentry-evaluator', kind: rule.kind },
    annotations: {
      summary: dimensionWide
        ? `${rule.name}${rule.kind === 'pipeline' ? '' : ' on {{ $labels.dimension }}'} (finsentry evaluator)`
        : `${rule.name} on {{ $labels.dimension }} {{ $labels.group }} (finsentry evaluator)`,
      description: describe(rule),
      runbook_url: rule.runbookUrl,
    },
  };
}

/** The Prometheus rule group that alerts on the evaluator's decisions for `rules`. */
export function evaluatorRuleGroup(rules: readonly AlertRuleConfig[]): PrometheusRuleGroup {
  return { name: EVALUATOR_RULE_GROUP, rules: rules.map(prometheusRuleFor) };
}
