import type { StatsObservation } from '../../src/domain/observation.js';
import { ALL_DIMENSION } from '../../src/stats/grouping.js';

/**
 * A plain observation for event-time tests: counted in `_all` only, neutral, with its offset; `extra`
 * adds what a case needs (a Kafka record time, groups).
 */
export function plainObservation(
  id: string,
  offset: number,
  eventTimeMs: number,
  extra: Partial<StatsObservation> = {},
): StatsObservation {
  return {
    documentId: id,
    offset: String(offset),
    eventTimeMs,
    groups: [{ dimension: ALL_DIMENSION, value: 'all' }],
    label: 'neutral',
    pNeg: 0.1,
    pPos: 0.1,
    polarity: 0,
    confidence: 0.8,
    tokens: 20,
    unknownTokens: 0,
    truncated: false,
    entityTypes: {},
    ...extra,
  };
}
