import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { AlertEvent } from '../../alerts/events.js';
import type { FinsentryConfig } from '../../config/schema.js';
import type { GroupWindowStats, WindowReader } from '../../domain/windows.js';
import { fairnessDimensions } from '../../config/rules.js';
import { wilsonInterval } from '../../stats/fairness.js';
import { histogramEdges } from '../../stats/histograms.js';
import { differenceInterval, ratioInterval } from '../../stats/intervals.js';
import {
  buildStatsReport,
  readGroupSeries,
  reportOptionsFromConfig,
  type BaselineSource,
  type MultiWindowReader,
  type StatsReport,
} from '../../stats/dimension-report.js';
import type {
  ReportAlertEpisode,
  ReportAlerts,
  ReportData,
  ReportDimension,
  ReportDrift,
  ReportGroup,
  ReportInterval,
  ReportLabelled,
} from './types.js';
import { isEntityFragment } from './fragments.js';

/**
 * Builds ReportData from the window store (through WindowReader + the stats colleague's pure fairness
 * and drift functions in src/stats) and the alert history. All reads happen here; the renderer is pure.
 */
export interface LoadReportOptions {
  windowMs: number;
  dimensions: readonly string[];
  /** Window end (exclusive, event time); default: the end of the watermark's bucket. */
  endMs?: number;
  /** Groups shown per dimension (largest first) — bounded for unbounded dimensions like issuer. */
  maxGroups?: number;
  /** Groups drawn over time per dimension. */
  seriesGroups?: number;
  title?: string;
  nowMs?: number;
}

function meanConfidence(stats: GroupWindowStats): number | null {
  const bins = stats.histograms.confidence ?? [];
  const edges = histogramEdges('confidence');
  let n = 0;
  let sum = 0;
  bins.forEach((count, i) => {
    n += count;
    sum += count * ((edges[i]! + edges[i + 1]!) / 2);
  });
  return n > 0 ? sum / n : null;
}

function toGroups(
  report: StatsReport,
  window: readonly GroupWindowStats[],
  maxGroups: number,
  keep: (group: string) => boolean,
): { groups: ReportGroup[]; omitted: number } {
  const byGroup = new Map(window.map((g) => [g.group, g]));
  const sorted = report.fairness.groups
    .filter((g) => keep(g.group))
    .sort((a, b) => b.n - a.n || a.group.localeCompare(b.group));
  const shown = sorted.slice(0, maxGroups);
  return {
    omitted: sorted.length - shown.length,
    groups: shown.map((g) => {
      const stats = byGroup.get(g.group);
      return {
        group: g.group,
        n: g.n,
        successes: g.successes,
        rate: g.rate,
        wilsonLow: g.wilson?.low ?? null,
        wilsonHigh: g.wilson?.high ?? null,
        judged: g.judged,
        diffVsRest: g.vsRest?.difference ?? null,
        pValueVsRest: g.vsRest?.pValue ?? null,
        meanPolarity: stats && stats.count > 0 ? stats.polaritySum / stats.count : null,
        meanConfidence: stats ? meanConfidence(stats) : null,
      };
    }),
  };
}

/** The 95% intervals of DI (min / max) and DPD (max − min) between the groups that define them. */
function parityIntervals(report: StatsReport): {
  disparateImpactInterval: ReportInterval | null;
  parityDifferenceInterval: ReportInterval | null;
} {
  const { minGroup, maxGroup } = report.fairness.disparateImpactRatio;
  const min = report.fairness.groups.find((g) => g.group === minGroup);
  const max = report.fairness.groups.find((g) => g.group === maxGroup);
  if (!min || !max || report.fairness.rate === 'mean_polarity')
    return { disparateImpactInterval: null, parityDifferenceInterval: null };
  return {
    disparateImpactInterval: ratioInterval(min.successes, min.n, max.successes, max.n),
    parityDifferenceInterval: differenceInterval(max.successes, max.n, min.successes, min.n),
  };
}

/** Labelled metrics and label coverage of the groups shown; null when no label joined in the window. */
function toLabelled(report: StatsReport, shown: readonly ReportGroup[]): ReportLabelled | null {
  const l = report.fairness.labelled;
  if (!l) return null;
  const sizes = new Map(shown.map((g) => [g.group, g.n]));
  const performance = new Map(report.performance.map((p) => [p.group, p]));
  const groups = l.groups
    .filter((g) => sizes.has(g.group))
    .map((g) => {
      const n = sizes.get(g.group)!;
      const interval = g.accuracy === null ? null : wilsonInterval(Math.round(g.accuracy * g.n), g.n);
      return {
        group: g.group,
        labelled: g.n,
        coverage: n > 0 ? g.n / n : null,
        accuracy: g.accuracy,
        accuracyLow: interval?.low ?? null,
        accuracyHigh: interval?.high ?? null,
        tprNegative: g.tpr.negative,
        fprNegative: g.fpr.negative,
        classRates: Object.entries(performance.get(g.group)?.classRates ?? {}).map(([label, r]) => ({
          label,
          tpr: r.tpr,
          fpr: r.fpr,
        })),
        estimatedAccuracy: performance.get(g.group)?.estimatedAccuracy ?? null,
        judged: g.judged,
      };
    });
  const labelled = groups.reduce((sum, g) => sum + g.labelled, 0);
  const total = shown.reduce((sum, g) => sum + g.n, 0);
  return {
    groups,
    labelled,
    coverage: total > 0 ? labelled / total : null,
    equalizedOddsDifference: l.equalizedOddsDifference.value,
    equalizedOddsInterval: report.equalizedOddsInterval
      ? {
          low: report.equalizedOddsInterval.low,
          high: report.equalizedOddsInterval.high,
          worstClass: report.equalizedOddsInterval.worstClass,
          worstRate: report.equalizedOddsInterval.worstRate,
          decidingPair: report.equalizedOddsInterval.decidingPair,
        }
      : null,
    accuracyGap: l.accuracyGap,
  };
}

function toDrift(report: StatsReport): ReportDrift | null {
  if (!report.drift) return null;
  return {
    referenceKind: report.drift.reference.kind,
    referenceName: report.drift.reference.name,
    referenceStartMs: report.drift.reference.startMs,
    referenceEndMs: report.drift.reference.endMs,
    referenceDocuments: report.drift.reference.documents,
    features: report.drift.features.map((f) => ({
      feature: f.feature,
      kind: f.kind,
      currentN: f.currentN,
      referenceN: f.referenceN,
      psi: f.psi,
      jensenShannon: f.jensenShannon,
      ksStatistic: f.ks?.statistic ?? null,
      ksPValue: f.ks?.pValue ?? null,
      chiSquarePValue: f.chiSquare?.pValue ?? null,
    })),
  };
}

export async function loadReportData(
  reader: WindowReader & BaselineSource & MultiWindowReader,
  config: FinsentryConfig,
  options: LoadReportOptions,
  alerts: ReportAlerts,
): Promise<ReportData> {
  const maxGroups = options.maxGroups ?? 30;
  const seriesGroups = options.seriesGroups ?? 8;
  const dimensions: ReportDimension[] = [];
  let first: StatsReport | null = null;
  const notes: string[] = [];
  const fairness = new Set(fairnessDimensions(config));
  const entityDimensions = new Set(
    config.stats.dimensions.filter((d) => d.from.startsWith('entities.')).map((d) => d.name),
  );
  for (const dimension of options.dimensions) {
    const opts = reportOptionsFromConfig(config, dimension, options.windowMs);
    if (options.endMs !== undefined) opts.endMs = options.endMs;
    const report = await buildStatsReport(reader, config.stats.bucket, opts);
    first ??= report;
    const window = await reader.readWindow({
      dimension,
      windowMs: options.windowMs,
      endMs: report.windowEndMs,
    });
    const excludedFragments = entityDimensions.has(dimension)
      ? report.fairness.groups.map((g) => g.group).filter(isEntityFragment)
      : [];
    const excluded = new Set(excludedFragments);
    const { groups, omitted } = toGroups(report, window, maxGroups, (g) => !excluded.has(g));
    const changes = new Map(report.changes.map((c) => [c.group, c.alarmsAtMs]));
    const series = [];
    const shown = groups.slice(0, seriesGroups);
    const seriesOf = await readGroupSeries(
      reader,
      { dimension, windowMs: options.windowMs, endMs: report.windowEndMs },
      shown.map((g) => g.group),
    );
    for (const g of shown) {
      const points = seriesOf.get(g.group) ?? [];
      series.push({
        group: g.group,
        points: points.map(([t, s]) => ({
          t,
          n: s.count,
          negativeShare: s.count > 0 ? s.labelCounts.negative / s.count : null,
        })),
        changeAlarmsMs: changes.get(g.group) ?? [],
      });
    }
    if (groups.length === 0) notes.push(`Dimension ${dimension} has no documents in the window.`);
    dimensions.push({
      dimension,
      fairness: fairness.has(dimension),
      minSamples: report.fairness.minSamples,
      groups,
      excludedFragments,
      ...parityIntervals(report),
      labelled: toLabelled(report, groups),
      omittedGroups: omitted,
      demographicParityDifference: report.fairness.demographicParityDifference.value,
      disparateImpactRatio: report.fairness.disparateImpactRatio.value,
      minGroup: report.fairness.disparateImpactRatio.minGroup,
      maxGroup: report.fairness.disparateImpactRatio.maxGroup,
      series,
    });
  }
  const watermarkMs = first?.watermarkMs ?? (await reader.watermark());
  if (watermarkMs === 0)
    notes.push('The window store is empty: no document has been processed with this Redis key prefix.');
  const drift = first ? toDrift(first) : null;
  if (first && !drift)
    notes.push(
      `No drift reference: ${config.evaluator.reference.kind === 'baseline' ? `baseline "${config.evaluator.reference.name}" has not been captured` : 'no data before the window'}.`,
    );
  return {
    title: options.title ?? 'finsentry model-risk report',
    generatedAtMs: options.nowMs ?? Date.now(),
    windowMs: options.windowMs,
    windowStartMs: first?.windowStartMs ?? 0,
    windowEndMs: first?.windowEndMs ?? 0,
    watermarkMs,
    bucketMs: config.stats.bucket,
    smoothMs: Math.max(config.stats.bucket, Math.min(300_000, Math.floor(options.windowMs / 12))),
    totalDocuments: first?.totalDocuments ?? 0,
    lateObservations: first?.lateObservations ?? (await reader.lateCount()),
    rate: 'negative_share',
    dimensions,
    drift,
    alerts,
    notes,
  };
}

/**
 * Alert events (in the order they were published) → episodes: one per fingerprint and pending start,
 * carrying the last state seen. The most recent `limit` episodes are kept.
 */
export function alertEpisodes(events: readonly AlertEvent[], limit = 50): ReportAlertEpisode[] {
  const episodes = new Map<string, ReportAlertEpisode>();
  for (const e of events) {
    const id = `${e.fingerprint}:${e.started_at}`;
    const firingSince = e.labels.firing_since ? Date.parse(e.labels.firing_since) : Number.NaN;
    const prev = episodes.get(id);
    const episode: ReportAlertEpisode = {
      fingerprint: e.fingerprint,
      rule: e.rule,
      kind: e.kind,
      severity: e.severity,
      dimension: e.dimension,
      group: e.group,
      metric: e.metric,
      value: e.value,
      threshold: e.threshold,
      state: e.state,
      startedAtMs: e.started_at,
      firingAtMs: Number.isFinite(firingSince) ? firingSince : (prev?.firingAtMs ?? null),
      endedAtMs:
        e.ended_at ?? (e.state === 'resolved' || e.state === 'inactive' ? (prev?.endedAtMs ?? null) : null),
      summary: e.summary,
      runbookUrl: e.runbook_url,
    };
    episodes.set(id, episode);
  }
  return [...episodes.values()]
    .sort((a, b) => a.startedAtMs - b.startedAtMs || a.rule.localeCompare(b.rule))
    .slice(-limit);
}

/** The Chart.js UMD bundle from node_modules, to inline into the report. */
export function loadChartJsSource(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('chart.js'); // …/chart.js/dist/chart.cjs
  return readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
}
