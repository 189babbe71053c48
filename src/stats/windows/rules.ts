import type { FinsentryConfig } from '../../config/schema.js';
import type { LabelObservation, StatsObservation } from '../../domain/observation.js';
import type {
  GroupWindowStats,
  RefusedRecord,
  StatsApplyResult,
  StatsBatch,
  WindowQuery,
} from '../../domain/windows.js';
import { labelDeltas, observationDeltas, rawToGroupStats, type RawCounters } from '../counters.js';
import type { StoryDedupOptions } from './story-claims.js';
import { groupBudgetOf, type GroupBudget } from './group-budget.js';

/**
 * The window rules every window store shares (design §4), apart from any state backend: the Redis
 * store (src/io/redis/window-store.ts) and the in-memory one (./memory-store.ts) both use them, so
 * they bucket, bound and merge windows identically.
 */

export interface WindowStoreOptions {
  keyPrefix: string;
  bucketMs: number;
  allowedLatenessMs: number;
  /** Records further ahead of their partition's event clock are not counted (default: the lateness). */
  maxFutureSkewMs?: number;
  /** Wall clock for the future bound of a quiet partition (src/stats/event-time.ts); default Date.now. */
  nowMs?: () => number;
  /** Where a record's Kafka timestamp (wall time) falls on that clock (recordNow); default: itself. */
  recordClock?: (wallMs: number) => number;
  /** Lifetime of counter buckets after their last write. */
  ttlSeconds: number;
  /** Dimensions a baseline captures (the implicit `_all` is always added). */
  dimensions: readonly string[];
  /** Count a story once per group of these dimensions (./story-claims.ts); absent: every document counts. */
  stories?: StoryDedupOptions;
  /** Distinct groups per (partition, bucket, dimension) (./group-budget.ts); absent: no budget. */
  groupBudget?: GroupBudget;
}

/** Options from config: TTL covers the longest window plus a trailing reference before it, lateness and slack. */
export function windowStoreOptions(
  cfg: FinsentryConfig,
  keyPrefix = cfg.redis.keyPrefix,
): WindowStoreOptions {
  const longest = Math.max(...cfg.stats.windows);
  const reference = cfg.evaluator.reference.kind === 'trailing' ? cfg.evaluator.reference.window : 0;
  // A rule's own reference (the surge rule's 24 h history) is read before its window.
  const ruleReach = (cfg.alerts?.rules ?? []).map((r) => r.window + (r.referenceWindow ?? 0));
  const reach = Math.max(longest + reference, ...ruleReach);
  const retentionMs = reach + cfg.stats.allowedLateness + 2 * cfg.stats.bucket + 600_000;
  const { stories } = cfg.stats;
  return {
    keyPrefix,
    bucketMs: cfg.stats.bucket,
    allowedLatenessMs: cfg.stats.allowedLateness,
    maxFutureSkewMs: cfg.limits.maxFutureSkew,
    ttlSeconds: Math.ceil(retentionMs / 1000),
    dimensions: cfg.stats.dimensions.map((d) => d.name),
    groupBudget: groupBudgetOf(cfg.stats),
    ...(stories.kinds.length > 0 && stories.dedupDimensions.length > 0
      ? { stories: { windowMs: stories.window, dimensions: stories.dedupDimensions } }
      : {}),
    ...(cfg.stats.eventTimeRate > 1 ? replayClock(cfg.stats.eventTimeRate) : {}),
  };
}

/**
 * A clock that runs `rate` times faster than the wall clock from now on (stats.eventTimeRate), and
 * where a record's wall-clock Kafka timestamp falls on it.
 */
export function replayClock(
  rate: number,
  startMs = Date.now(),
): Required<Pick<WindowStoreOptions, 'nowMs' | 'recordClock'>> {
  const at = (wallMs: number) => startMs + (wallMs - startMs) * rate;
  return { nowMs: () => at(Date.now()), recordClock: at };
}

/** Now on the store's clock, and the map of record timestamps onto it. */
export function storeNow(options: Pick<WindowStoreOptions, 'nowMs' | 'recordClock'>): {
  nowMs: number;
  at: (wallMs: number) => number;
} {
  return {
    nowMs: Math.floor((options.nowMs ?? Date.now)()),
    at: options.recordClock ?? ((wallMs) => wallMs),
  };
}

/** End (exclusive) of the window as of a watermark: the end of the watermark's bucket. */
export function windowEndFor(watermarkMs: number, bucketMs: number): number {
  return Math.floor(watermarkMs / bucketMs) * bucketMs + bucketMs;
}

/** The K groups with the most documents (ties by name), for bounded exports and tables. */
export function topGroupsByVolume(stats: readonly GroupWindowStats[], k: number): GroupWindowStats[] {
  return [...stats]
    .sort((a, b) => b.count - a.count || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0))
    .slice(0, k);
}

export interface ResolvedWindow {
  start: number;
  end: number;
  /** Start of every bucket in [start, end), ascending. */
  buckets: number[];
}

/** The buckets of a query's window; the end defaults to the window end of `watermarkMs` (null: nothing stored). */
export function resolveWindow(
  query: WindowQuery,
  watermarkMs: number,
  bucketMs: number,
): ResolvedWindow | null {
  let end = query.endMs;
  if (end === undefined) {
    if (watermarkMs === 0) return null;
    end = windowEndFor(watermarkMs, bucketMs);
  }
  const start = end - query.windowMs;
  const buckets: number[] = [];
  for (let t = Math.ceil(start / bucketMs) * bucketMs; t < end; t += bucketMs) buckets.push(t);
  return { start, end, buckets };
}

/** Raw counters of a dimension's groups → window stats, largest first (groups with no data left out). */
export function groupStatsOf(
  dimension: string,
  groups: ReadonlyMap<string, RawCounters>,
): GroupWindowStats[] {
  return topGroupsByVolume(
    [...groups]
      .map(([group, raw]) => rawToGroupStats(dimension, group, raw))
      .filter((s) => s.count > 0 || s.confusion !== null),
    Number.POSITIVE_INFINITY,
  );
}

/**
 * One observation or label as a window store applies it: [offset or "", eventTimeMs, bucketStart,
 * [dim, group, …], [counter, delta, …]]. This is also the JSON the Redis Lua script reads.
 */
export type WindowItem = [
  offset: string,
  eventTimeMs: number,
  bucket: string,
  groups: string[],
  fields: Array<string | number>,
  /** The input record's Kafka timestamp (observations; null when unknown): see recordNow. */
  recordTimeMs: number | null,
];

/** Canonical decimal form of an input offset; rejects anything else. */
export function normalizeOffset(offset: string): string {
  if (!/^\d+$/.test(offset))
    throw new Error(`invalid offset "${offset}" (expected a non-negative decimal integer)`);
  return BigInt(offset).toString();
}

/** Compares two canonical decimal offsets (as the Lua script does: by length, then lexically). */
export function compareOffsets(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

function flatGroups(o: StatsObservation | LabelObservation): string[] {
  const flat: string[] = [];
  for (const g of o.groups) {
    if (!/^[^{}\s:]+$/.test(g.dimension)) throw new Error(`invalid dimension name "${g.dimension}"`);
    // "|" separates group and counter in field names (sanitised values never contain it).
    if (g.value.length === 0 || /[{}|]/.test(g.value)) throw new Error(`invalid group value "${g.value}"`);
    flat.push(g.dimension, g.value);
  }
  return flat;
}

function item(
  o: StatsObservation | LabelObservation,
  what: string,
  bucketMs: number,
  deltas: Array<[string, number]>,
): WindowItem {
  if (!Number.isFinite(o.eventTimeMs)) throw new Error(`${what} ${o.documentId}: invalid event time`);
  const t = Math.floor(o.eventTimeMs); // millisecond resolution, integer watermarks
  const fields: Array<string | number> = [];
  for (const [field, delta] of deltas) fields.push(field, delta);
  return [
    o.offset === undefined ? '' : normalizeOffset(o.offset),
    t,
    String(Math.floor(t / bucketMs) * bucketMs),
    flatGroups(o),
    fields,
    'recordTimeMs' in o && o.recordTimeMs !== undefined ? o.recordTimeMs : null,
  ];
}

/** A batch's observations then labels as window items (validated: bad names or times throw). */
export function windowItems(batch: StatsBatch, bucketMs: number): WindowItem[] {
  return [
    ...batch.observations.map((o) => item(o, 'observation', bucketMs, observationDeltas(o))),
    ...batch.labels.map((l) => item(l, 'label', bucketMs, labelDeltas(l))),
  ];
}

/** Maps the script's refused item indices (observations first, then labels: buildItems' order) to records. */
export function refusedRecords(batch: StatsBatch, flat: ReadonlyArray<number | string>): RefusedRecord[] {
  const out: RefusedRecord[] = [];
  for (let j = 0; j + 1 < flat.length; j += 2) {
    const index = Number(flat[j]);
    const item: StatsObservation | LabelObservation | undefined =
      index < batch.observations.length
        ? batch.observations[index]
        : batch.labels[index - batch.observations.length];
    if (!item) continue;
    const refused: RefusedRecord = {
      documentId: item.documentId,
      reason: Number(flat[j + 1]) === 1 ? 'late' : 'future',
    };
    if (item.offset !== undefined) refused.offset = item.offset;
    out.push(refused);
  }
  return out;
}

/**
 * The `refused` part of a store's apply result from the flat (item index, verdict) list both stores
 * produce (1 = late, 2 = future): absent when nothing was refused, so both stores answer alike.
 */
export function refusedOf(
  batch: StatsBatch,
  flat: ReadonlyArray<number | string> | undefined,
): { refused?: RefusedRecord[] } {
  const refused = refusedRecords(batch, flat ?? []);
  return refused.length > 0 ? { refused } : {};
}

/** Items folded per dimension from the script's flat (dimension, count) list. */
export function foldedCounts(flat: ReadonlyArray<number | string> | undefined): Record<string, number> {
  const folded: Record<string, number> = {};
  for (let j = 0; j + 1 < (flat?.length ?? 0); j += 2)
    folded[String(flat![j])] = (folded[String(flat![j])] ?? 0) + Number(flat![j + 1]);
  return folded;
}

/**
 * Most distinct (bucket, dimension, group) cells one store call writes. It bounds how long one Redis
 * script holds the server: the script's cost is one HINCRBY per distinct cell and counter (pairs of the
 * same cell are summed in Lua first) plus the budget's look-ups per new group, so a batch of documents
 * naming dozens of one-off tickers each is applied in several calls (docs/guarantees.md "Cardinality
 * budget"); an ordinary batch (many documents in the same few groups) stays one call.
 */
export const MAX_GROUPS_PER_CALL = 200;

/** Items [from, to) of a batch applied as one call, storing `lastOffset`. */
export interface ItemChunk {
  from: number;
  to: number;
  lastOffset: string;
}

/**
 * A batch's items in calls of at most `maxGroups` distinct cells. Split only where every item has an
 * offset and the offsets strictly increase: each call then stores its own last item's offset (the last
 * call the batch's), so a replay after a crash between calls skips exactly what was applied.
 */
export function itemChunks(
  items: readonly WindowItem[],
  lastOffset: string,
  maxGroups = MAX_GROUPS_PER_CALL,
): ItemChunk[] {
  const whole = [{ from: 0, to: items.length, lastOffset }];
  for (let i = 0; i < items.length; i++)
    if (items[i]![0] === '' || (i > 0 && compareOffsets(items[i - 1]![0], items[i]![0]) >= 0)) return whole;
  const chunks: ItemChunk[] = [];
  let from = 0;
  let cells = new Set<string>();
  for (let i = 0; i < items.length; i++) {
    const itemCells = cellsOf(items[i]!);
    const added = itemCells.filter((c) => !cells.has(c)).length;
    if (i > from && cells.size + added > maxGroups) {
      chunks.push({ from, to: i, lastOffset: items[i - 1]![0] });
      from = i;
      cells = new Set();
    }
    for (const c of itemCells) cells.add(c);
  }
  chunks.push({ from, to: items.length, lastOffset });
  return chunks;
}

/** The (bucket, dimension, group) cells an item writes. */
function cellsOf(item: WindowItem): string[] {
  const groups = item[3];
  const out: string[] = [];
  for (let j = 0; j + 1 < groups.length; j += 2)
    out.push(`${item[2]}\u0000${groups[j]}\u0000${groups[j + 1]}`);
  return out;
}

/** What one store call reports: applied (-1 state missing, 0 replay, 1), counts, refused (item, verdict) pairs. */
export interface CallOutcome {
  applied: number;
  late: number;
  future: number;
  watermarkMs: number;
  /** Flat (item index within the call, 1 late | 2 future) pairs. */
  refused: number[];
  folded: Record<string, number>;
}

/** The calls of one batch as one outcome: refused indices made batch-wide, counts summed. */
export function mergeCallOutcomes(
  chunks: readonly ItemChunk[],
  outcomes: readonly CallOutcome[],
): CallOutcome {
  const merged: CallOutcome = { applied: 0, late: 0, future: 0, watermarkMs: 0, refused: [], folded: {} };
  outcomes.forEach((o, c) => {
    merged.applied = merged.applied === -1 || o.applied === -1 ? -1 : Math.max(merged.applied, o.applied);
    merged.late += o.late;
    merged.future += o.future;
    merged.watermarkMs = o.watermarkMs;
    for (let j = 0; j + 1 < o.refused.length; j += 2)
      merged.refused.push(o.refused[j]! + chunks[c]!.from, o.refused[j + 1]!);
    for (const [dim, n] of Object.entries(o.folded)) merged.folded[dim] = (merged.folded[dim] ?? 0) + n;
  });
  return merged;
}

/** A batch's apply result from its merged outcome (the same in both stores). */
export function applyResultOf(batch: StatsBatch, o: CallOutcome): StatsApplyResult {
  if (o.applied === -1) return { applied: false, late: 0, watermarkMs: 0, stateMissing: true };
  return {
    applied: o.applied === 1,
    late: o.late,
    future: o.future,
    watermarkMs: o.watermarkMs,
    ...refusedOf(batch, o.refused),
    ...(Object.keys(o.folded).length > 0 ? { folded: o.folded } : {}),
  };
}
