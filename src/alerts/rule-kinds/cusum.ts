import { sumGroupStats } from '../../stats/counters.js';
import {
  CUSUM_DEFAULTS,
  CUSUM_START,
  cusumStatistic,
  cusumStep,
  standardizedShare,
} from '../../stats/cusum.js';
import { ALL_GROUP } from '../../stats/grouping.js';
import { fmt, type RuleMeasureContext } from '../measure-inputs.js';
import type { Measurement } from '../state-machine.js';
import type { DriftReference } from './drift.js';

/**
 * CUSUM of the per-bucket negative share against the reference share (src/stats/cusum.ts). The
 * rule's window is the bucket the statistic is fed with (1m); each window end is folded in once
 * (inputs.endMs), buckets below min samples are skipped. The value is the statistic, compared with
 * the rule's threshold h; the state lives in inputs.sequential (in memory: a new leader starts at 0).
 */
export function measureCusum(
  { rule, inputs, current, base, minSamples }: RuleMeasureContext,
  reference: DriftReference,
): Measurement {
  const params = { ...CUSUM_DEFAULTS, h: rule.threshold, k: rule.sequential?.k ?? CUSUM_DEFAULTS.k };
  const dispersion = rule.sequential?.dispersion ?? 1;
  const bucket = sumGroupStats('', ALL_GROUP, current);
  const ref = sumGroupStats('', ALL_GROUP, reference.stats);
  const p0 = ref.count > 0 ? ref.labelCounts.negative / ref.count : Number.NaN;
  const key = `${rule.name}|${base.dimension}`;
  const prev = inputs.sequential?.get(key) ?? { cusum: CUSUM_START, lastEndMs: 0 };
  let state = prev;
  const endMs = inputs.endMs ?? prev.lastEndMs + 1;
  if (endMs > prev.lastEndMs && ref.count >= minSamples) {
    const z =
      bucket.count >= minSamples
        ? standardizedShare(bucket.labelCounts.negative, bucket.count, p0, dispersion)
        : Number.NaN;
    state = { cusum: cusumStep(prev.cusum, z, params), lastEndMs: endMs };
    inputs.sequential?.set(key, state);
  }
  const share = bucket.count > 0 ? bucket.labelCounts.negative / bucket.count : Number.NaN;
  return {
    ...base,
    group: 'negative_share',
    value: cusumStatistic(state.cusum),
    sampleSize: bucket.count,
    judged: ref.count >= minSamples && state.cusum.steps > 0,
    detail: `CUSUM up ${fmt(state.cusum.upper)} / down ${fmt(state.cusum.lower)} (k ${params.k}, h ${params.h}, φ ${dispersion}); bucket share ${fmt(share)} (n=${bucket.count}) vs ${reference.label} ${fmt(p0)} (n=${ref.count})`,
  };
}
