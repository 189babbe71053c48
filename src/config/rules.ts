import { formatDuration } from './duration.js';
import type { AlertRuleConfig, FinsentryConfig } from './schema.js';

/**
 * What an alert rule may name (design §7): metrics per kind, drift features, configured dimensions and
 * windows the window store keeps. Checked when the config is parsed, so `finsentry config check` and
 * `finsentry run` refuse the same rules with the same field-named messages, before any server is
 * contacted (docs/cli.md#errors).
 */

export const NUMERIC_DRIFT_FEATURES = ['p_neg', 'polarity', 'confidence', 'tokens'] as const;
export const DRIFT_FEATURES = [
  ...NUMERIC_DRIFT_FEATURES,
  'label_mix',
  'entity_type_mix',
  'unknown_token_rate',
  'truncation_rate',
] as const;

/**
 * The sentiment metric of the surge rule (src/alerts/surge-rule.ts): the negative share of a group's
 * stories, against its own history shrunk to the pool, beta-binomial, Benjamini–Hochberg.
 */
export const SURGE_METRIC = 'negative_share_surge';

export const RULE_METRICS: Record<AlertRuleConfig['kind'], readonly string[]> = {
  sentiment: [
    'negative_share',
    'positive_share',
    'mean_polarity',
    'mean_confidence',
    'estimated_accuracy',
    'accuracy',
    'macro_f1',
    'label_coverage',
    SURGE_METRIC,
  ],
  fairness: ['disparate_impact_ratio', 'demographic_parity_difference', 'group_deviation_z'],
  drift: ['psi', 'js_distance', 'ks_statistic', 'cusum'],
  pipeline: ['dlq_rate', 'dlq_share', 'consumer_lag', 'stalled_seconds', 'input_rate', 'late_share'],
};

/** The `_all` dimension (every document, one group); see src/stats/grouping.ts. */
const ALL_DIMENSION = '_all';

/** Metric and feature problems of one rule, as `field: message` (field relative to the rule). */
export function ruleFieldIssues(rule: AlertRuleConfig): string[] {
  const issues: string[] = [];
  if (!RULE_METRICS[rule.kind].includes(rule.metric))
    issues.push(
      `metric: "${rule.metric}" is not one of ${RULE_METRICS[rule.kind].join(', ')} for kind ${rule.kind}`,
    );
  if (rule.kind !== 'drift' && rule.feature !== undefined)
    issues.push(`feature: only drift rules have a feature (this rule is kind ${rule.kind})`);
  issues.push(...intervalRuleIssues(rule), ...sequentialRuleIssues(rule));
  if (rule.kind === 'drift' && rule.metric === 'cusum') return issues;
  if (rule.kind === 'drift') {
    const feature = rule.feature ?? 'p_neg';
    if (!(DRIFT_FEATURES as readonly string[]).includes(feature))
      issues.push(`feature: "${feature}" is not one of ${DRIFT_FEATURES.join(', ')}`);
    else if (
      rule.metric === 'ks_statistic' &&
      !(NUMERIC_DRIFT_FEATURES as readonly string[]).includes(feature)
    )
      issues.push(`feature: ks_statistic needs a numeric feature (${NUMERIC_DRIFT_FEATURES.join(', ')})`);
  }
  return issues;
}

/** Fairness figures judged on a confidence interval take `confidence`, not `maxPValue` (docs/alerting.md). */
function intervalRuleIssues(rule: AlertRuleConfig): string[] {
  const onInterval =
    rule.kind === 'fairness' &&
    (rule.metric === 'disparate_impact_ratio' || rule.metric === 'demographic_parity_difference');
  if (onInterval && rule.maxPValue !== undefined)
    return [
      `maxPValue: does not apply to ${rule.metric}; the rule fires when its confidence interval (confidence, default 0.95) lies wholly beyond the threshold`,
    ];
  if (rule.kind === 'fairness' && rule.confidence !== undefined && !onInterval)
    return ['confidence: applies to disparate_impact_ratio and demographic_parity_difference only'];
  return [];
}

/** CUSUM drift rules (metric cusum) run on the negative share and compare their statistic with h. */
function sequentialRuleIssues(rule: AlertRuleConfig): string[] {
  if (rule.kind === 'drift' && rule.metric === 'cusum') {
    const issues: string[] = [];
    if ((rule.feature ?? 'negative_share') !== 'negative_share')
      issues.push('feature: cusum runs on feature negative_share');
    if (rule.comparison !== '>' && rule.comparison !== '>=')
      issues.push('comparison: cusum compares its statistic with threshold h: comparison must be >');
    return issues;
  }
  return rule.sequential !== undefined ? ['sequential: applies to drift rules with metric cusum only'] : [];
}

/** Dimension and window problems of one rule against the statistics it reads. */
function ruleStatsIssues(rule: AlertRuleConfig, stats: FinsentryConfig['stats']): string[] {
  const issues: string[] = [];
  const configured = stats.dimensions.map((d) => d.name);
  if (rule.kind === 'pipeline') {
    if (rule.dimension !== undefined) issues.push('dimension: pipeline rules have no dimension');
    return issues;
  }
  if (rule.kind === 'fairness' && rule.dimension === undefined)
    issues.push(
      `dimension: a fairness rule compares the groups of a dimension: one of ${configured.join(', ')}`,
    );
  if (
    rule.dimension !== undefined &&
    rule.dimension !== ALL_DIMENSION &&
    !configured.includes(rule.dimension)
  )
    issues.push(
      `dimension: "${rule.dimension}" is not a configured dimension (stats.dimensions: ${configured.join(', ')}, or ${ALL_DIMENSION})`,
    );
  const longest = Math.max(...stats.windows);
  if (rule.window % stats.bucket !== 0)
    issues.push(
      `window: ${formatDuration(rule.window)} is not a whole number of stats.bucket (${formatDuration(stats.bucket)})`,
    );
  else if (rule.window > longest)
    issues.push(
      `window: ${formatDuration(rule.window)} is longer than the longest of stats.windows (${formatDuration(longest)}); its counters would have expired`,
    );
  return issues;
}

/** Every problem of the configured `alerts.rules`, each prefixed with its path (alerts.rules[i].field). */
export function alertRuleIssues(config: FinsentryConfig): string[] {
  const rules = config.alerts?.rules ?? [];
  const issues: string[] = [];
  const seen = new Set<string>();
  rules.forEach((rule, i) => {
    const at = `alerts.rules[${i}]`;
    for (const issue of [...ruleFieldIssues(rule), ...ruleStatsIssues(rule, config.stats)])
      issues.push(`${at}.${issue} (rule ${rule.name})`);
    if (seen.has(rule.name))
      issues.push(`${at}.name: "${rule.name}" is used by an earlier rule; names are unique`);
    seen.add(rule.name);
  });
  return issues;
}

/** Fairness dimensions must be dimensions of groups of documents, not of the entities they mention. */
export function fairnessIssues(config: FinsentryConfig): string[] {
  const sources = new Map(config.stats.dimensions.map((d) => [d.name, d.from]));
  return config.fairness.dimensions.flatMap((name, i) => {
    const from = sources.get(name);
    return from === 'tickers' || from?.startsWith('entities.')
      ? [
          `fairness.dimensions[${i}]: "${name}" groups documents by the ${from} they mention; parity is judged across sources, regions, languages, platforms and kinds, not across issuers or tickers`,
        ]
      : [];
  });
}

/** The configured fairness dimensions that exist in stats.dimensions, in config order. */
export function fairnessDimensions(config: FinsentryConfig): string[] {
  const configured = new Set(config.stats.dimensions.map((d) => d.name));
  return config.fairness.dimensions.filter((d) => configured.has(d));
}
