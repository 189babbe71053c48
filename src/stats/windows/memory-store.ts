import { admitEventTime, EMPTY_CLOCK, recordNow, type PartitionClock } from '../event-time.js';
import type {
  GroupWindowStats,
  StatsApplyResult,
  StatsBatch,
  StatsSink,
  WindowQuery,
  WindowReader,
} from '../../domain/windows.js';
import { rawToGroupStats, type RawCounters } from '../counters.js';
import { ALL_DIMENSION } from '../grouping.js';
import {
  admitNewGroups,
  budgetFor,
  FOLDED_GROUP,
  RECURRING_MIN_COUNT,
  type NewGroup,
} from './group-budget.js';
import { checkBaselineName, snapshotBaseline, type BaselineSnapshot } from './baseline.js';
import {
  applyResultOf,
  compareOffsets,
  groupStatsOf,
  itemChunks,
  mergeCallOutcomes,
  normalizeOffset,
  resolveWindow,
  storeNow,
  windowItems,
  type CallOutcome,
  type WindowItem,
  type WindowStoreOptions,
} from './rules.js';
import {
  claimsToRelease,
  claimValue,
  grantsClaim,
  refusedIndices,
  storyClaims,
  withoutCopies,
  withStoryCopies,
  type StoryClaim,
} from './story-claims.js';

/**
 * The event-time window store in process memory (design §4): the same StatsSink and WindowReader as
 * the Redis store (src/io/redis/window-store.ts) with the same semantics — bucketed integer counters
 * per (partition, bucket, dimension), windows as sums over buckets and partitions, per-partition last
 * applied offsets (a batch at or below the stored offset changes nothing; observations with offsets
 * above it are applied), per-partition watermarks with allowed lateness (older observations are
 * counted as late, not added), and a TTL on counter buckets since their last write. It mirrors the
 * Lua script of the Redis store step for step; test/integration/stats-window-parity.test.ts feeds
 * both the same batches and compares every read.
 *
 * For unit tests and backtests (the rules and the state machine without Redis). State lives as long
 * as the object; nothing is persisted.
 */

export interface MemoryWindowStoreOptions extends Omit<WindowStoreOptions, 'keyPrefix'> {
  /**
   * What counter TTLs are measured against. `wall` (default): Date.now(), as Redis does. `event`: the
   * store's watermark, so that a backtest replaying days of traffic in minutes keeps only the
   * buckets its windows can still read (memory bounded by the retention, not by the length of the run).
   */
  expiry?: 'wall' | 'event';
  /** Clock for `wall` expiry (tests). */
  now?: () => number;
}

interface CounterBucket {
  expiresAtMs: number;
  /** group → counter → value */
  groups: Map<string, RawCounters>;
  /** Groups admitted under the cardinality budget (the script's "<group>|_" markers). */
  admitted: Set<string>;
}

/** Per bucket key, per group of a batch: its items and its first item's index (./group-budget.ts). */
type BatchWeights = Map<string, Map<string, NewGroup>>;

interface PartitionState {
  offset: string | null;
  /** Max event time applied; undefined until the first observation. */
  watermarkMs: number | undefined;
  late: number;
  future: number;
  /** Event clock, as the script's state (src/stats/event-time.ts). */
  clock: PartitionClock;
  /** `${bucket}:${dimension}` → counters */
  counters: Map<string, CounterBucket>;
}

/** Sweep expired buckets once per this many apply() calls (reads skip expired buckets anyway). */
const SWEEP_EVERY = 256;

export class MemoryWindowStore implements StatsSink, WindowReader {
  private readonly partitionsByKey = new Map<string, PartitionState>();
  private readonly baselines = new Map<string, BaselineSnapshot>();
  /** Story claims by key (./story-claims.ts), each with its expiry on the store's clock. */
  private readonly storyClaims = new Map<string, { value: string; expiresAtMs: number }>();
  private readonly now: () => number;
  private applies = 0;

  constructor(readonly options: MemoryWindowStoreOptions) {
    if (!(options.bucketMs > 0)) throw new Error('bucketMs must be positive');
    this.now = options.now ?? Date.now;
  }

  private clock(): number {
    return this.options.expiry === 'event' ? this.currentWatermark() : this.now();
  }

  /** The store's watermark (max over partitions), synchronously. */
  currentWatermark(): number {
    let wm = 0;
    for (const p of this.partitionsByKey.values()) wm = Math.max(wm, p.watermarkMs ?? 0);
    return wm;
  }

  async apply(batches: StatsBatch[]): Promise<StatsApplyResult[]> {
    return Promise.resolve(this.applySync(batches));
  }

  /** apply() without the promise. Every batch is validated first: a bad one throws and nothing changes. */
  applySync(batches: readonly StatsBatch[]): StatsApplyResult[] {
    const prepared = batches.map((batch) => {
      if (!/^[^{}\s]+$/.test(batch.partitionKey))
        throw new Error(`invalid partition key "${batch.partitionKey}"`);
      return {
        partitionKey: batch.partitionKey,
        lastOffset: normalizeOffset(batch.lastOffset),
        items: windowItems(batch, this.options.bucketMs),
        batch,
      };
    });
    // Story dedup (./story-claims.ts), as the Redis store: claim, count the batches without the
    // copies, give back the claims of refused records.
    const claims = this.options.stories ? storyClaims(batches, this.options.stories) : [];
    const granted = claims.map((c) => this.claim(c));
    const counted = withoutCopies(batches, claims, granted);
    // In the Redis store's chunks (rules.ts itemChunks), so that both admit groups alike.
    const outcomes = prepared.map((p, b) => {
      const items =
        counted.copies[b]! > 0 ? windowItems(counted.batches[b]!, this.options.bucketMs) : p.items;
      const chunks = itemChunks(items, p.lastOffset);
      return mergeCallOutcomes(
        chunks,
        chunks.map((c) => this.applyBatch(p.partitionKey, c.lastOffset, items.slice(c.from, c.to))),
      );
    });
    for (const c of claimsToRelease(
      claims,
      granted,
      outcomes.map((o) => refusedIndices(o.refused)),
    ))
      if (this.storyClaims.get(c.key)?.value === claimValue(c)) this.storyClaims.delete(c.key);
    if (++this.applies % SWEEP_EVERY === 0) this.sweep();
    return outcomes.map((o, b) => withStoryCopies(applyResultOf(prepared[b]!.batch, o), counted.copies[b]!));
  }

  /**
   * One story claim, as the Redis store's claim script decides it. Its TTL runs on the store's clock;
   * on the event clock, not before the claim's own event time (the watermark only moves once the
   * batch is applied).
   */
  private claim(c: StoryClaim): boolean {
    const now = this.options.expiry === 'event' ? Math.max(this.clock(), c.eventTimeMs) : this.clock();
    const held = this.storyClaims.get(c.key);
    const stored = held && held.expiresAtMs > now ? held.value : null;
    if (!grantsClaim(stored, c, this.options.stories!.windowMs)) return false;
    const ttlMs = this.options.stories!.windowMs + this.options.allowedLatenessMs;
    this.storyClaims.set(c.key, { value: claimValue(c), expiresAtMs: now + ttlMs });
    return true;
  }

  /** One batch, as the Redis store's Lua script applies it (src/io/redis/window-store.ts). */
  private applyBatch(partitionKey: string, lastOffset: string, items: readonly WindowItem[]): CallOutcome {
    let state = this.partitionsByKey.get(partitionKey);
    const stored = state?.offset ?? null;
    if (stored !== null && compareOffsets(lastOffset, stored) <= 0)
      return {
        applied: 0,
        late: 0,
        future: 0,
        watermarkMs: state?.watermarkMs ?? 0,
        refused: [],
        folded: {},
      };
    let clock = state?.clock ?? EMPTY_CLOCK;
    const { nowMs, at } = storeNow(this.options);
    const bounds = {
      allowedLatenessMs: this.options.allowedLatenessMs,
      maxFutureSkewMs: this.options.maxFutureSkewMs ?? this.options.allowedLatenessMs,
    };
    let late = 0;
    let future = 0;
    const refused: number[] = []; // (item index, 1 late | 2 future), as the script returns them
    // Sums per (bucket:dimension, group, counter) first, then one add each (as the script's HINCRBYs).
    const sums = new Map<string, Map<string, Map<string, number>>>();
    const weights: BatchWeights = new Map();
    for (const [index, [off, t, bucket, groups, fields, recordTimeMs]] of items.entries()) {
      if (stored !== null && off !== '' && compareOffsets(off, stored) <= 0) continue;
      const admitted = admitEventTime(clock, t, recordNow(recordTimeMs, nowMs, at), bounds);
      clock = admitted.clock;
      if (admitted.verdict !== 'on-time') {
        if (admitted.verdict === 'late') late += 1;
        else future += 1;
        refused.push(index, admitted.verdict === 'late' ? 1 : 2);
        continue;
      }
      for (let j = 0; j < groups.length; j += 2) {
        const key = `${bucket}:${groups[j]!}`;
        let byGroup = sums.get(key);
        if (!byGroup) sums.set(key, (byGroup = new Map()));
        let counters = byGroup.get(groups[j + 1]!);
        if (!counters) byGroup.set(groups[j + 1]!, (counters = new Map()));
        countItem(weights, key, groups[j + 1]!);
        for (let k = 0; k < fields.length; k += 2) {
          const name = fields[k] as string;
          counters.set(name, (counters.get(name) ?? 0) + (fields[k + 1] as number));
        }
      }
    }
    if (!state) this.partitionsByKey.set(partitionKey, (state = this.emptyPartition()));
    state.offset = lastOffset;
    // Stored as the script stores it: "0" before any observation, and 0 thereafter is a watermark.
    state.watermarkMs = clock.maxEventMs ?? 0;
    state.clock = clock;
    state.late += late;
    state.future += future;
    const folded = this.foldOverBudget(state, sums, weights);
    this.addSums(state, sums);
    return { applied: 1, late, future, watermarkMs: clock.maxEventMs ?? 0, refused, folded };
  }

  private emptyPartition(): PartitionState {
    return {
      offset: null,
      watermarkMs: undefined,
      late: 0,
      future: 0,
      clock: EMPTY_CLOCK,
      counters: new Map(),
    };
  }

  /** The live bucket of a key (a fresh one when absent or expired). */
  private liveBucket(state: PartitionState, key: string, expiresAtMs: number): CounterBucket {
    let bucket = state.counters.get(key);
    if (!bucket || bucket.expiresAtMs <= this.clock()) {
      bucket = { expiresAtMs, groups: new Map(), admitted: new Set() };
      state.counters.set(key, bucket);
    }
    return bucket;
  }

  /**
   * The cardinality budget, as the script applies it: each bucket admits new groups while it holds
   * fewer than its dimension's budget, heaviest first; the others' sums move to FOLDED_GROUP.
   */
  private foldOverBudget(
    state: PartitionState,
    sums: Map<string, Map<string, Map<string, number>>>,
    weights: BatchWeights,
  ): Record<string, number> {
    const folded: Record<string, number> = {};
    const budget = this.options.groupBudget;
    if (!budget) return folded;
    const expiresAtMs = this.clock() + this.options.ttlSeconds * 1000;
    for (const [key, byGroup] of sums) {
      const dimension = key.slice(key.indexOf(':') + 1);
      const max = budgetFor(budget, dimension);
      if (max <= 0) continue;
      const bucket = this.liveBucket(state, key, expiresAtMs);
      const fresh = [...weights.get(key)!.values()].filter(
        (g) => g.group !== FOLDED_GROUP && !bucket.admitted.has(g.group),
      );
      if (fresh.length === 0) continue;
      const verdict = admitNewGroups(fresh, bucket.admitted.size, max, (group) =>
        this.recurredBefore(state, key, group),
      );
      for (const group of verdict.admitted) bucket.admitted.add(group);
      for (const { group, weight } of verdict.folded) {
        moveCounters(byGroup, group, FOLDED_GROUP);
        folded[dimension] = (folded[dimension] ?? 0) + weight;
      }
    }
    return folded;
  }

  /** Whether the bucket before `key`'s held at least RECURRING_MIN_COUNT documents of `group`. */
  private recurredBefore(state: PartitionState, key: string, group: string): boolean {
    const sep = key.indexOf(':');
    const before = `${Number(key.slice(0, sep)) - this.options.bucketMs}${key.slice(sep)}`;
    const bucket = state.counters.get(before);
    if (!bucket || bucket.expiresAtMs <= this.clock()) return false;
    return (bucket.groups.get(group)?.get('n') ?? 0) >= RECURRING_MIN_COUNT;
  }

  private addSums(state: PartitionState, sums: Map<string, Map<string, Map<string, number>>>): void {
    const expiresAtMs = this.clock() + this.options.ttlSeconds * 1000;
    for (const [key, byGroup] of sums) {
      const bucket = this.liveBucket(state, key, expiresAtMs);
      bucket.expiresAtMs = expiresAtMs;
      for (const [group, counters] of byGroup) {
        for (const [name, delta] of counters) {
          if (delta === 0) continue; // the script skips zero sums: the field is not created
          let raw = bucket.groups.get(group);
          if (!raw) bucket.groups.set(group, (raw = new Map()));
          raw.set(name, (raw.get(name) ?? 0) + delta);
        }
      }
    }
  }

  /** Drops expired counter buckets. */
  sweep(): void {
    const now = this.clock();
    for (const p of this.partitionsByKey.values())
      for (const [key, bucket] of p.counters) if (bucket.expiresAtMs <= now) p.counters.delete(key);
    for (const [key, held] of this.storyClaims) if (held.expiresAtMs <= now) this.storyClaims.delete(key);
  }

  /** Partition keys that hold statistics. */
  async partitions(): Promise<string[]> {
    return Promise.resolve([...this.partitionsByKey.keys()].sort());
  }

  /** Last applied offset per partition (what a consumer may safely resume after). */
  async appliedOffsets(): Promise<Record<string, string | null>> {
    const keys = await this.partitions();
    return Object.fromEntries(keys.map((k) => [k, this.partitionsByKey.get(k)!.offset]));
  }

  async watermark(): Promise<number> {
    return Promise.resolve(this.currentWatermark());
  }

  async partitionWatermarks(): Promise<Map<string, number>> {
    const keys = await this.partitions();
    return new Map(keys.map((k) => [k, this.partitionsByKey.get(k)!.watermarkMs ?? 0]));
  }

  async lateCount(): Promise<number> {
    let late = 0;
    for (const p of this.partitionsByKey.values()) late += p.late;
    return Promise.resolve(late);
  }

  private window(query: WindowQuery) {
    return resolveWindow(
      query,
      query.endMs === undefined ? this.currentWatermark() : 0,
      this.options.bucketMs,
    );
  }

  /** Live counter buckets of one dimension and bucket, over every partition. */
  private *bucketsOf(dimension: string, bucket: number): Generator<Map<string, RawCounters>> {
    const now = this.clock();
    const key = `${bucket}:${dimension}`;
    for (const p of this.partitionsByKey.values()) {
      const b = p.counters.get(key);
      if (b && b.expiresAtMs > now) yield b.groups;
    }
  }

  private sumWindows(dimensions: readonly string[], buckets: readonly number[]) {
    const out: Record<string, GroupWindowStats[]> = {};
    for (const dimension of dimensions) {
      const merged = new Map<string, RawCounters>();
      for (const bucket of buckets) {
        for (const groups of this.bucketsOf(dimension, bucket)) {
          for (const [group, counters] of groups) {
            let raw = merged.get(group);
            if (!raw) merged.set(group, (raw = new Map()));
            for (const [name, value] of counters) raw.set(name, (raw.get(name) ?? 0) + value);
          }
        }
      }
      out[dimension] = groupStatsOf(dimension, merged);
    }
    return out;
  }

  /** All groups of a dimension in a window, summed over buckets and partitions; largest first. */
  async readWindow(query: WindowQuery): Promise<GroupWindowStats[]> {
    const window = this.window(query);
    if (!window) return [];
    return Promise.resolve(this.sumWindows([query.dimension], window.buckets)[query.dimension] ?? []);
  }

  /** Several dimensions' windows ending at the same instant (default: as of the watermark). */
  async readWindows(
    dimensions: readonly string[],
    windowMs: number,
    endMs?: number,
  ): Promise<{ endMs: number; dimensions: Record<string, GroupWindowStats[]> } | null> {
    const window = this.window({ dimension: ALL_DIMENSION, windowMs, endMs });
    if (!window) return null;
    return Promise.resolve({ endMs: window.end, dimensions: this.sumWindows(dimensions, window.buckets) });
  }

  /** Windows of every configured dimension (plus `_all`) ending at the same instant. */
  async readAllDimensions(windowMs: number, endMs?: number) {
    return this.readWindows(
      [ALL_DIMENSION, ...this.options.dimensions.filter((d) => d !== ALL_DIMENSION)],
      windowMs,
      endMs,
    );
  }

  /** Per-bucket stats of one group, every bucket of the window in ascending order (empty buckets included). */
  async readSeries(query: WindowQuery & { group: string }): Promise<Array<[number, GroupWindowStats]>> {
    const window = this.window(query);
    if (!window) return [];
    return Promise.resolve(
      window.buckets.map((b): [number, GroupWindowStats] => {
        const raw: RawCounters = new Map();
        for (const groups of this.bucketsOf(query.dimension, b))
          for (const [name, value] of groups.get(query.group) ?? [])
            raw.set(name, (raw.get(name) ?? 0) + value);
        return [b, rawToGroupStats(query.dimension, query.group, raw)];
      }),
    );
  }

  /** Keeps the window ending at the current watermark (all dimensions) as a named reference. */
  async captureBaseline(
    name: string,
    windowMs: number,
    nowMs: number = Date.now(),
  ): Promise<BaselineSnapshot> {
    const snapshot = await snapshotBaseline(this, name, windowMs, this.options.bucketMs, nowMs);
    this.baselines.set(name, structuredClone(snapshot));
    return snapshot;
  }

  async readBaseline(name: string): Promise<BaselineSnapshot | null> {
    const snapshot = this.baselines.get(checkBaselineName(name));
    return Promise.resolve(snapshot ? structuredClone(snapshot) : null);
  }

  async listBaselines(): Promise<string[]> {
    return Promise.resolve([...this.baselines.keys()].sort());
  }

  /** Forgets everything. */
  deleteAll(): void {
    this.partitionsByKey.clear();
    this.baselines.clear();
    this.storyClaims.clear();
  }
}

/** Counts an item in its group; `first` is the group's rank of first appearance in the key (a total order). */
function countItem(weights: BatchWeights, key: string, group: string): void {
  let byGroup = weights.get(key);
  if (!byGroup) weights.set(key, (byGroup = new Map()));
  const seen = byGroup.get(group);
  if (seen) seen.weight += 1;
  else byGroup.set(group, { group, weight: 1, first: byGroup.size });
}

/** Adds a group's batch sums to another group's and removes them. */
function moveCounters(byGroup: Map<string, Map<string, number>>, from: string, to: string): void {
  const source = byGroup.get(from);
  if (!source) return;
  let target = byGroup.get(to);
  if (!target) byGroup.set(to, (target = new Map()));
  for (const [name, delta] of source) target.set(name, (target.get(name) ?? 0) + delta);
  byGroup.delete(from);
}
