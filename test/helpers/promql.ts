import { createMetrics } from '../../src/telemetry/metrics.js';

/**
 * Small PromQL helpers for tests of the shipped rules and dashboards. promtool has no query parser,
 * so metric names are extracted lexically: strings, label matchers, grouping clauses and range
 * selectors are removed, then every remaining identifier that is not a function call or keyword is a
 * metric name. Good enough to prove that rules and panels only use metrics finsentry exports.
 */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'bool',
  'offset',
  'group_left',
  'group_right',
  'inf',
  'nan',
  'atan2',
]);

export function metricNamesInExpr(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, '');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const [, ident, call] = m;
    if (call || KEYWORDS.has(ident!.toLowerCase())) continue;
    if (/^\d/.test(ident!)) continue;
    names.add(ident!);
  }
  return [...names];
}

/** Every series name finsentry exports (histograms with their _bucket/_sum/_count series). */
export function exportedMetricNames(): string[] {
  const metrics = createMetrics({
    stats: { dimensions: [{ name: 'region', bounded: true }], topK: 10 },
    processMetrics: true,
  });
  const names: string[] = [];
  for (const m of metrics.registry.getMetricsAsArray()) {
    const { name, type } = m as unknown as { name: string; type: string };
    names.push(name);
    if (type === 'histogram') names.push(`${name}_bucket`, `${name}_sum`, `${name}_count`);
    if (type === 'summary') names.push(`${name}_sum`, `${name}_count`);
  }
  names.push('up');
  return names;
}
