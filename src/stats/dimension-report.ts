import type { GroupWindowStats, WindowQuery, WindowReader } from '../domain/windows.js';
import { withoutFoldedGroup } from './windows/group-budget.js';
import { topGroupsByVolume } from './windows/rules.js';
import type { FinsentryConfig } from '../config/schema.js';
import { sumGroupStats } from './counters.js';
import {
  computeDrift,
  negativeRateChange,
  type DriftFeatureResult,
  type DriftSnapshot,
  type PageHinkleyParams,
} from './drift.js';
import { fairnessReport, type FairnessReport, type RateKind } from './fairness.js';
import {
  demographicParityInterval,
  disparateImpactInterval,
  type FairnessInterval,
} from './fairness-intervals.js';

/** Confidence of the fairness intervals in the report: the default rules' (docs/alerting.md). */
export const FAIRNESS_REPORT_CONFIDENCE = 0.95;
import { groupPerformance, type GroupPerformance } from './performance.js';
import { equalizedOddsInterval, type EqualizedOddsInterval } from './equalized-odds.js';
import { ALL_DIMENSION, ALL_GROUP } from './grouping.js';

/**
 * One dimension's view of a window, as `finsentry stats` prints it and the evaluator can use it:
 * per-group rates and fairness, drift of every feature against the configured reference, and a
 * Page–Hinkley change check on the negative rate of the top-K groups. Reads go through the store's
 * reader; everything computed here is pure.
 */

export interface BaselineSource {
  readBaseline(name: string): Promise<{
    name: string;
    windowStartMs: number;
    windowEndMs: number;
    dimensions: Record<string, GroupWindowStats[]>;
  } | null>;
}

export interface ReportOptions {
  dimension: string;
  windowMs: number;
  /** Window end (exclusive); default: as of the store's watermark. */
  endMs?: number;
  minSamples: number;
  /** Equalized odds per-class minimum (stats.minClassSamples); default 0 (Fairlearn's figure). */
  minClassSamples?: number;
  rate?: RateKind;
  topK: number;
  reference: { kind: 'baseline' | 'trailing'; name: string; window: number };
  /** Dimensions whose group mix is a drift feature (design §6: source, language). */
  mixDimensions: readonly string[];
  pageHinkley?: Partial<PageHinkleyParams>;
}

export interface DriftSection {
  reference: {
    kind: 'baseline' | 'trailing';
    name: string | null;
    startMs: number;
    endMs: number;
    documents: number;
  };
  features: DriftFeatureResult[];
}

export interface ChangeCheck {
  group: string;
  /** Bucket starts where Page–Hinkley raised an alarm on the negative rate (within the window). */
  alarmsAtMs: number[];
  statistic: number;
}

export interface StatsReport {
  dimension: string;
  windowMs: number;
  watermarkMs: number;
  windowStartMs: number;
  windowEndMs: number;
  lateObservations: number;
  totalDocuments: number;
  fairness: FairnessReport;
  /** Simultaneous 95% intervals of the DIR and DPD (src/stats/fairness-intervals.ts); null below two judged groups. */
  fairnessIntervals: {
    disparateImpactRatio: FairnessInterval | null;
    demographicParityDifference: FairnessInterval | null;
  };
  /** Realised (joined labels) and estimated (CBPE) performance per group, with label coverage. */
  performance: GroupPerformance[];
  /** Simultaneous 95% interval of the equalized odds difference (src/stats/equalized-odds.ts); null without two judged labelled groups. */
  equalizedOddsInterval: EqualizedOddsInterval | null;
  drift: DriftSection | null;
  /** Why drift is null (e.g. the configured baseline does not exist). */
  driftUnavailable: string | null;
  changes: ChangeCheck[];
}

export function reportOptionsFromConfig(
  cfg: FinsentryConfig,
  dimension: string,
  windowMs: number,
): ReportOptions {
  return {
    dimension,
    windowMs,
    minSamples: cfg.stats.minSamples,
    minClassSamples: cfg.stats.minClassSamples,
    topK: cfg.stats.topK,
    reference: cfg.evaluator.reference,
    mixDimensions: cfg.stats.dimensions
      .filter((d) => !d.crossWith && (d.from === 'source' || d.from === 'language'))
      .map((d) => d.name),
  };
}

function driftSnapshot(
  dimensions: Record<string, GroupWindowStats[]>,
  mixDimensions: readonly string[],
): DriftSnapshot {
  const mixes: Record<string, Record<string, number>> = {};
  for (const dim of mixDimensions)
    mixes[dim] = Object.fromEntries((dimensions[dim] ?? []).map((g) => [g.group, g.count]));
  return { total: sumGroupStats(ALL_DIMENSION, ALL_GROUP, dimensions[ALL_DIMENSION] ?? []), mixes };
}

/** Readers that can fetch several dimensions in one pipelined phase (RedisWindowStore) use that. */
export interface MultiWindowReader {
  readWindows?(
    dimensions: readonly string[],
    windowMs: number,
    endMs?: number,
  ): Promise<{ dimensions: Record<string, GroupWindowStats[]> } | null>;
  /** Several groups' series from one read of the window (the Redis store). */
  readSeriesOfGroups?(
    query: WindowQuery & { groups: readonly string[] },
  ): Promise<Map<string, Array<[number, GroupWindowStats]>>>;
}

/** Per-bucket series of some groups of a dimension: one read of the window where the store can. */
export async function readGroupSeries(
  reader: WindowReader & MultiWindowReader,
  query: WindowQuery,
  groups: readonly string[],
): Promise<Map<string, Array<[number, GroupWindowStats]>>> {
  if (reader.readSeriesOfGroups) return reader.readSeriesOfGroups({ ...query, groups });
  const out = new Map<string, Array<[number, GroupWindowStats]>>();
  for (const group of groups) out.set(group, await reader.readSeries({ ...query, group }));
  return out;
}

async function readDims(
  reader: WindowReader & MultiWindowReader,
  dims: readonly string[],
  windowMs: number,
  endMs: number,
): Promise<Record<string, GroupWindowStats[]>> {
  const all = [...new Set([ALL_DIMENSION, ...dims])];
  if (reader.readWindows) return (await reader.readWindows(all, windowMs, endMs))?.dimensions ?? {};
  const out: Record<string, GroupWindowStats[]> = {};
  for (const dim of all) out[dim] = await reader.readWindow({ dimension: dim, windowMs, endMs });
  return out;
}

export async function buildStatsReport(
  reader: WindowReader & BaselineSource & MultiWindowReader,
  bucketMs: number,
  opts: ReportOptions,
): Promise<StatsReport> {
  const watermarkMs = await reader.watermark();
  const endMs = opts.endMs ?? Math.floor(watermarkMs / bucketMs) * bucketMs + bucketMs;
  const startMs = endMs - opts.windowMs;
  const groups = await reader.readWindow({ dimension: opts.dimension, windowMs: opts.windowMs, endMs });
  const current = await readDims(reader, opts.mixDimensions, opts.windowMs, endMs);
  const fairness = fairnessReport(opts.dimension, groups, {
    minSamples: opts.minSamples,
    ...(opts.rate ? { rate: opts.rate } : {}),
    ...(opts.minClassSamples !== undefined ? { minClassSamples: opts.minClassSamples } : {}),
  });

  let drift: DriftSection | null = null;
  let driftUnavailable: string | null = null;
  if (opts.reference.kind === 'trailing') {
    const reference = await readDims(reader, opts.mixDimensions, opts.reference.window, startMs);
    const ref = driftSnapshot(reference, opts.mixDimensions);
    drift = {
      reference: {
        kind: 'trailing',
        name: null,
        startMs: startMs - opts.reference.window,
        endMs: startMs,
        documents: ref.total.count,
      },
      features: computeDrift(driftSnapshot(current, opts.mixDimensions), ref),
    };
  } else {
    const baseline = await reader.readBaseline(opts.reference.name);
    if (baseline) {
      const ref = driftSnapshot(baseline.dimensions, opts.mixDimensions);
      drift = {
        reference: {
          kind: 'baseline',
          name: baseline.name,
          startMs: baseline.windowStartMs,
          endMs: baseline.windowEndMs,
          documents: ref.total.count,
        },
        features: computeDrift(driftSnapshot(current, opts.mixDimensions), ref),
      };
    } else {
      driftUnavailable = `baseline "${opts.reference.name}" not found (capture it with \`finsentry baseline capture --window 24h --name ${opts.reference.name}\`)`;
    }
  }

  const changes: ChangeCheck[] = [];
  // The cardinality budget's fold is no group to watch for a change.
  const top = topGroupsByVolume(withoutFoldedGroup(groups), opts.topK);
  const seriesOf = await readGroupSeries(
    reader,
    { dimension: opts.dimension, windowMs: opts.windowMs, endMs },
    top.map((g) => g.group),
  );
  for (const g of top) {
    const series = seriesOf.get(g.group) ?? [];
    const change = negativeRateChange(series, opts.pageHinkley);
    changes.push({ group: g.group, alarmsAtMs: change.alarmsAtMs, statistic: change.statistic });
  }

  return {
    dimension: opts.dimension,
    windowMs: opts.windowMs,
    watermarkMs,
    windowStartMs: startMs,
    windowEndMs: endMs,
    lateObservations: await reader.lateCount(),
    totalDocuments: (current[ALL_DIMENSION] ?? []).reduce((s, g) => s + g.count, 0),
    fairness,
    fairnessIntervals: {
      disparateImpactRatio: disparateImpactInterval(fairness.groups, FAIRNESS_REPORT_CONFIDENCE),
      demographicParityDifference: demographicParityInterval(fairness.groups, FAIRNESS_REPORT_CONFIDENCE),
    },
    performance: groups.map(groupPerformance),
    equalizedOddsInterval: fairness.labelled
      ? equalizedOddsInterval(fairness.labelled, FAIRNESS_REPORT_CONFIDENCE, opts.minClassSamples ?? 0)
      : null,
    drift,
    driftUnavailable,
    changes,
  };
}
