import type { AlertRuleConfig } from '../../config/schema.js';
import type { GroundTruth } from '../scenarios/ground-truth.js';
import { scoreScenario, type ObservedAlert } from '../scenarios/scoring.js';

/**
 * Per rule: false alerts per simulated day (episodes no planted event explains, scenario scoring of
 * src/tools/scenarios/scoring.ts), detection delay and resolution delay of each planted event the
 * rule is expected to find, and the share of time it spent firing (summed over its groups).
 */
export interface RuleRow {
  rule: string;
  falseAlerts: number;
  falseAlertsPerDay: number;
  /** Groups the false alerts were on (distinct). */
  falseGroups: string[];
  detections: Array<{
    group: string | null;
    delayMs: number | null;
    resolveDelayMs: number | null;
    episodes: number;
  }>;
  firingShare: number;
}

export function scoreBacktest(
  truth: GroundTruth,
  alerts: readonly ObservedAlert[],
  rules: readonly AlertRuleConfig[],
): RuleRow[] {
  const score = scoreScenario(truth, alerts);
  const days = (truth.endMs - truth.startMs) / 86_400_000;
  return rules
    .filter((r) => r.kind !== 'pipeline')
    .map((rule) => {
      const falseAlerts = score.falseAlerts.filter((a) => a.rule === rule.name);
      const firingMs = alerts
        .filter((a) => a.rule === rule.name && a.firingAtMs !== null)
        .reduce((s, a) => s + ((a.resolvedAtMs ?? truth.endMs) - a.firingAtMs!), 0);
      return {
        rule: rule.name,
        falseAlerts: falseAlerts.length,
        falseAlertsPerDay: falseAlerts.length / days,
        falseGroups: [...new Set(falseAlerts.map((a) => `${a.dimension}/${a.group}`))],
        detections: score.detections
          .filter((d) => d.expected.rule === rule.name)
          .map((d) => ({
            group: d.expected.group ?? null,
            delayMs: d.delayMs,
            resolveDelayMs: d.resolveDelayMs,
            episodes: d.matched.length,
          })),
        firingShare: firingMs / (truth.endMs - truth.startMs),
      };
    });
}

const minutes = (ms: number | null) => (ms === null ? '-' : `${(ms / 60_000).toFixed(1)} min`);

export function formatTable(rows: readonly RuleRow[]): string {
  const header = ['rule', 'false/day', 'false groups', 'detection delay', 'resolved after end', 'firing'];
  const lines = rows.map((r) => [
    r.rule,
    r.falseAlertsPerDay.toFixed(2),
    r.falseGroups.length > 3 ? `${r.falseGroups.slice(0, 3).join(', ')}, …` : r.falseGroups.join(', ') || '-',
    r.detections.length === 0
      ? '-'
      : r.detections
          .map((d) =>
            d.delayMs === null
              ? 'missed'
              : `${minutes(d.delayMs)} (${d.episodes} alert${d.episodes === 1 ? '' : 's'})`,
          )
          .join('; '),
    r.detections.length === 0 ? '-' : r.detections.map((d) => minutes(d.resolveDelayMs)).join('; '),
    `${(100 * r.firingShare).toFixed(2)}%`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)].join('\n');
}
