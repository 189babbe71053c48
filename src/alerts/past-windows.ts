import type { AlertRuleConfig } from '../config/schema.js';
import { SURGE_METRIC } from '../config/rules.js';
import type { GroupWindowStats, WindowReader } from '../domain/windows.js';
import { withoutFoldedGroup } from '../stats/windows/group-budget.js';
import { ruleDimension, windowKey } from './measure-inputs.js';

/**
 * Windows before the current one, for the surge rule's baseline dispersion (docs/alerting.md "Surge",
 * step 4): the last hour of 5-minute windows. Their ends sit on a grid of the window length, so they
 * change once a window, not at every bucket end, and are kept between rounds: a past window is final
 * (judged after the allowed lateness, docs/guarantees.md#event-time), so a cached one equals a fresh
 * read.
 */
export const PAST_WINDOWS = 12;

/** The (dimension, window) pairs whose past windows a rule set needs. */
export function pastWindowsNeeded(
  rules: readonly AlertRuleConfig[],
): Array<{ key: string; dimension: string; windowMs: number }> {
  const seen = new Map<string, { key: string; dimension: string; windowMs: number }>();
  for (const rule of rules) {
    if (rule.kind !== 'sentiment' || rule.metric !== SURGE_METRIC) continue;
    const dimension = ruleDimension(rule);
    const key = windowKey(dimension, rule.window);
    seen.set(key, { key, dimension, windowMs: rule.window });
  }
  return [...seen.values()];
}

/** Ends of the `count` grid-aligned windows that end at or before the current window's start. */
export function pastWindowEnds(endMs: number, windowMs: number, count: number = PAST_WINDOWS): number[] {
  const last = Math.floor((endMs - windowMs) / windowMs) * windowMs;
  const ends: number[] = [];
  for (let j = 0; j < count && last - j * windowMs > 0; j++) ends.push(last - j * windowMs);
  return ends;
}

/** Reads past windows through `windows`, keeping those still needed between calls. */
export class PastWindowsSource {
  private readonly cache = new Map<string, Map<number, GroupWindowStats[]>>();

  constructor(
    private readonly windows: Pick<WindowReader, 'readWindow'>,
    private readonly count: number = PAST_WINDOWS,
  ) {}

  /** The past windows of (dimension, windowMs) before the window ending at `endMs`, most recent first. */
  async read(dimension: string, windowMs: number, endMs: number): Promise<GroupWindowStats[][]> {
    const key = windowKey(dimension, windowMs);
    const kept = this.cache.get(key) ?? new Map<number, GroupWindowStats[]>();
    const ends = pastWindowEnds(endMs, windowMs, this.count);
    const next = new Map<number, GroupWindowStats[]>();
    await Promise.all(
      ends.map(async (end) => {
        const cached = kept.get(end);
        next.set(
          end,
          cached ?? withoutFoldedGroup(await this.windows.readWindow({ dimension, windowMs, endMs: end })),
        );
      }),
    );
    this.cache.set(key, next);
    return ends.map((end) => next.get(end)!);
  }
}
