/**
 * The cardinality budget (docs/guarantees.md "Cardinality budget"): at most N distinct groups per
 * (partition shard, bucket, dimension). A bucket admits new groups until it holds N; after that a
 * batch's new groups are folded into FOLDED_GROUP, whose counters sum them and whose count is the
 * documents folded. A group admitted to a bucket keeps exact counts in it, so no counter ever moves.
 *
 * Which groups win — a heavy-hitter rule that needs no state beyond the buckets themselves, so it is
 * the same on every replica and on a replay: the buckets are short (a minute by default) and the
 * budget starts afresh in each, so a frequent group is among the first a bucket sees; within a batch
 * new groups are admitted by their volume in the batch (then by first appearance), so a burst of
 * one-off values cannot push out the heavy group it arrived with; and the last tenth of the budget is
 * kept for groups with at least 2 documents in the bucket before, so a steady group that shows up
 * after the bucket filled still gets in. Both stores apply this rule: the Redis script mirrors
 * `admitNewGroups` step for step (src/io/redis/window-store.ts).
 */

/** Sanitised group values never contain "~" (src/stats/grouping.ts), so this cannot be a real group. */
export const FOLDED_GROUP = '~other';

export interface GroupBudget {
  /** Groups per (shard, bucket) of a dimension not listed in byDimension; 0 = no budget. */
  defaultMax: number;
  byDimension: Readonly<Record<string, number>>;
}

export const NO_GROUP_BUDGET: GroupBudget = { defaultMax: 0, byDimension: {} };

export function budgetFor(budget: GroupBudget, dimension: string): number {
  return budget.byDimension[dimension] ?? budget.defaultMax;
}

/** A group a batch brings to a bucket that does not hold it yet. */
export interface NewGroup {
  group: string;
  /** Items (documents or labels) of the batch in this group and bucket. */
  weight: number;
  /** Its rank of first appearance among the batch's groups of this bucket (the tie-break). */
  first: number;
}

/** Share of a bucket's budget kept for groups that recurred in the bucket before it. */
export const RECURRING_RESERVE_SHARE = 0.1;

/** The slots of a budget only recurring groups may take. */
export function recurringReserve(max: number): number {
  return Math.floor(max * RECURRING_RESERVE_SHARE);
}

/** A group recurs when the bucket before held at least this many of its documents. */
export const RECURRING_MIN_COUNT = 2;

/**
 * The new groups a bucket that already holds `held` groups admits under `max` (0: all of them):
 * heaviest first into the open room, then into the reserve only those that `recurring` says came
 * back from the bucket before (so a steady group a burst of one-off values filled the bucket ahead
 * of still gets in); the rest are folded.
 */
export function admitNewGroups(
  fresh: readonly NewGroup[],
  held: number,
  max: number,
  recurring: (group: string) => boolean = () => false,
): { admitted: string[]; folded: NewGroup[] } {
  if (max <= 0) return { admitted: fresh.map((g) => g.group), folded: [] };
  const ordered = [...fresh].sort((a, b) => b.weight - a.weight || a.first - b.first);
  const admitted: string[] = [];
  const folded: NewGroup[] = [];
  const open = max - recurringReserve(max);
  let count = held;
  for (const g of ordered) {
    if (count < open || (count < max && recurring(g.group))) {
      admitted.push(g.group);
      count += 1;
    } else folded.push(g);
  }
  return { admitted, folded };
}

/** A window's groups without the fold (what rules judge; the fold is counted by finsentry_groups_folded_total). */
export function withoutFoldedGroup<T extends { group: string }>(groups: readonly T[]): T[] {
  return groups.filter((g) => g.group !== FOLDED_GROUP);
}

/** The budget from config: stats.maxGroupsPerBucket, overridden per dimension. */
export function groupBudgetOf(stats: {
  maxGroupsPerBucket: number;
  dimensions: ReadonlyArray<{ name: string; maxGroupsPerBucket?: number | undefined }>;
}): GroupBudget {
  const byDimension: Record<string, number> = {};
  for (const d of stats.dimensions)
    if (d.maxGroupsPerBucket !== undefined) byDimension[d.name] = d.maxGroupsPerBucket;
  return { defaultMax: stats.maxGroupsPerBucket, byDimension };
}
