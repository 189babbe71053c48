import type { StatsObservation } from '../../src/domain/observation.js';
import { ALL_DIMENSION, ALL_GROUP } from '../../src/stats/grouping.js';

/**
 * Synthetic statistics for alert tests: observations as the pipeline's stats stage records them
 * (issuer and region groups plus the implicit `_all`), written through the real window store.
 */
let seq = 0;

export function observation(
  issuer: string,
  region: string,
  eventTimeMs: number,
  negative: boolean,
): StatsObservation {
  seq++;
  return {
    documentId: `doc-${seq}`,
    offset: String(seq),
    eventTimeMs,
    groups: [
      { dimension: ALL_DIMENSION, value: ALL_GROUP },
      { dimension: 'issuer', value: issuer },
      { dimension: 'region', value: region },
    ],
    label: negative ? 'negative' : 'positive',
    pNeg: negative ? 0.9 : 0.05,
    pPos: negative ? 0.05 : 0.9,
    polarity: negative ? -0.85 : 0.85,
    confidence: 0.9,
    tokens: 40,
    unknownTokens: 0,
    truncated: false,
    entityTypes: { ORG: 1 },
  };
}

/**
 * n documents of one issuer spread evenly over [fromMs, toMs); `negativePerTen` of every 10 are
 * negative. Regions alternate in blocks of 10 so that negatives are spread evenly over regions.
 */
export function traffic(
  issuer: string,
  fromMs: number,
  toMs: number,
  n: number,
  negativePerTen: number,
): StatsObservation[] {
  return Array.from({ length: n }, (_, i) =>
    observation(
      issuer,
      Math.floor(i / 10) % 2 === 0 ? 'emea' : 'apac',
      fromMs + Math.floor(((toMs - fromMs) * i) / n),
      i % 10 < negativePerTen,
    ),
  );
}

export function byEventTime(observations: StatsObservation[]): StatsObservation[] {
  return observations.sort((a, b) => a.eventTimeMs - b.eventTimeMs);
}
