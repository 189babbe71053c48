import { SENTIMENT_LABELS } from '../domain/enrichment.js';
import type { GroupWindowStats, WindowReader } from '../domain/windows.js';
import { POLARITY_SCALE, sumGroupStats } from '../stats/counters.js';
import { topGroupsByVolume } from '../stats/windows/rules.js';
import type { ReferenceSource } from './evaluator.js';

/**
 * A long trailing reference (the surge rule's 24 h, docs/alerting.md "Surge") kept as a running sum:
 * read whole once, then at each new window end only the buckets that entered and the buckets that
 * left are read, added and taken away. Read whole, a 24 h reference of an issuer dimension is one
 * counter hash per partition and bucket (1,440 a partition at 1-minute buckets) every bucket end.
 *
 * The buckets before the evaluated end are final (windows are judged after the allowed lateness,
 * docs/guarantees.md#event-time), so the running sum equals a fresh read; it is read whole again
 * every `refreshSteps` steps, when the end jumps by more than a quarter of the reference, or goes back
 * — which also bounds what a partition resuming after idleness with older records could skew.
 * test/unit/alerts/sliding-reference.test.ts compares it with fresh reads.
 */

interface Running {
  endMs: number;
  steps: number;
  groups: Map<string, GroupWindowStats>;
}

const REFRESH_STEPS = 60;

/** Counters are integers; polarity sums are integers over POLARITY_SCALE: keep them exact. */
function normalised(s: GroupWindowStats): GroupWindowStats {
  s.polaritySum = Math.round(s.polaritySum * POLARITY_SCALE) / POLARITY_SCALE;
  s.polaritySumSquares = Math.round(s.polaritySumSquares * POLARITY_SCALE) / POLARITY_SCALE;
  for (const [t, v] of Object.entries(s.entityTypes)) if (v === 0) delete s.entityTypes[t];
  const confusion = s.confusion;
  if (confusion && SENTIMENT_LABELS.every((a) => SENTIMENT_LABELS.every((b) => confusion[a][b] === 0)))
    s.confusion = null;
  return s;
}

function slide(
  running: Map<string, GroupWindowStats>,
  entered: readonly GroupWindowStats[],
  left: readonly GroupWindowStats[],
): Map<string, GroupWindowStats> {
  const changes = new Map<string, { parts: GroupWindowStats[]; weights: number[] }>();
  const add = (g: GroupWindowStats, w: number) => {
    let c = changes.get(g.group);
    if (!c) changes.set(g.group, (c = { parts: [], weights: [] }));
    c.parts.push(g);
    c.weights.push(w);
  };
  entered.forEach((g) => add(g, 1));
  left.forEach((g) => add(g, -1));
  const next = new Map(running);
  for (const [group, { parts, weights }] of changes) {
    const current = running.get(group);
    const first = current ?? parts[0]!;
    const sum = normalised(
      sumGroupStats(
        first.dimension,
        group,
        current ? [current, ...parts] : parts,
        current ? [1, ...weights] : weights,
      ),
    );
    if (sum.count > 0 || sum.confusion !== null) next.set(group, sum);
    else next.delete(group);
  }
  return next;
}

export function slidingReference(
  reader: WindowReader,
  referenceMs: number,
  refreshSteps = REFRESH_STEPS,
): ReferenceSource {
  const state = new Map<string, Promise<Running>>();
  const read = (dimension: string, fromMs: number, toMs: number) =>
    toMs > fromMs
      ? reader.readWindow({ dimension, windowMs: toMs - fromMs, endMs: toMs })
      : Promise.resolve([]);
  const whole = async (dimension: string, windowMs: number, endMs: number): Promise<Running> => {
    const stats = await read(dimension, endMs - windowMs - referenceMs, endMs - windowMs);
    return { endMs, steps: 0, groups: new Map(stats.map((g) => [g.group, g])) };
  };
  const step = async (
    previous: Running,
    dimension: string,
    windowMs: number,
    endMs: number,
  ): Promise<Running> => {
    const moved = endMs - previous.endMs;
    if (moved === 0) return previous;
    if (moved < 0 || moved > referenceMs / 4 || previous.steps >= refreshSteps)
      return whole(dimension, windowMs, endMs);
    const [entered, left] = await Promise.all([
      read(dimension, previous.endMs - windowMs, endMs - windowMs),
      read(dimension, previous.endMs - windowMs - referenceMs, endMs - windowMs - referenceMs),
    ]);
    return { endMs, steps: previous.steps + 1, groups: slide(previous.groups, entered, left) };
  };
  return {
    read: async (dimension, windowMs, currentEndMs) => {
      const key = `${dimension}|${windowMs}`;
      const previous = state.get(key);
      const next = previous
        ? previous.then(
            (p) => step(p, dimension, windowMs, currentEndMs),
            () => whole(dimension, windowMs, currentEndMs),
          )
        : whole(dimension, windowMs, currentEndMs);
      state.set(key, next);
      const running = await next;
      return topGroupsByVolume([...running.groups.values()], Number.POSITIVE_INFINITY);
    },
  };
}
