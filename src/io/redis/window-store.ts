import { createHash } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander } from 'ioredis';
import type {
  GroupWindowStats,
  StatsApplyResult,
  StatsBatch,
  StatsSink,
  WindowQuery,
  WindowReader,
} from '../../domain/windows.js';
import type { FinsentryConfig } from '../../config/schema.js';
import { rawToGroupStats, type RawCounters } from '../../stats/counters.js';
import { FUTURE_RUN_TO_JUMP, recordNow } from '../../stats/event-time.js';
import { ALL_DIMENSION } from '../../stats/grouping.js';
import { checkBaselineName, snapshotBaseline, type BaselineSnapshot } from '../../stats/windows/baseline.js';
import {
  compareOffsets,
  groupStatsOf,
  normalizeOffset,
  resolveWindow,
  windowItems,
  windowStoreOptions,
  type WindowStoreOptions,
} from '../../stats/windows/rules.js';
import { createRedisClient, isCluster, type RedisClient } from './client.js';
import type {
  CountedState,
  PartitionStateStore,
  StateWrite,
  StoredPartitionState,
} from '../../domain/partition-state.js';
import {
  applyResultOf,
  foldedCounts,
  itemChunks,
  mergeCallOutcomes,
  storeNow,
  type CallOutcome,
  type WindowItem,
} from '../../stats/windows/rules.js';
import {
  FOLDED_GROUP,
  NO_GROUP_BUDGET,
  RECURRING_MIN_COUNT,
  RECURRING_RESERVE_SHARE,
} from '../../stats/windows/group-budget.js';
import {
  claimsByTag,
  claimsToRelease,
  claimValue,
  refusedIndices,
  storyClaims,
  withoutCopies,
  withStoryCopies,
  type StoryClaim,
} from '../../stats/windows/story-claims.js';

/**
 * Event-time window store on Redis (design §4): the StatsSink the pipeline writes to and the
 * WindowReader the evaluator, `finsentry stats` and baselines read from.
 *
 * Layout. The keyspace is sharded by input partition: every key one batch touches carries the hash
 * tag of its partition, so one Lua script updates them atomically in one slot, on a single Redis or a
 * Redis Cluster alike:
 *   P:s:{<partitionKey>}:state                 HASH off (last applied offset), wm (event clock), late, fut,
 *                                              at/fr/fs (when wm moved; the run of future records),
 *                                              fp, f0o/f0 (record fingerprints: src/domain/partition-state.ts)
 *   P:s:{<partitionKey>}:c:<bucket>:<dim>      HASH "<group>|<counter>" → integer (src/stats/counters.ts):
 *                                              the counters of every (dimension, group, bucket) of the shard;
 *                                              `_off`/`_wm` offset and event clock of the last batch that wrote it;
 *                                              `<group>|_` and `_g` the groups admitted under the cardinality
 *                                              budget (src/stats/windows/group-budget.ts), `~other|…` the fold
 *   P:partitions                               SET of known partition keys (the reader merges their shards)
 *   P:story:{<dim>|<group>}:<story digest>     story claims (src/stats/windows/story-claims.ts): one
 *                                              script call per group, one slot; TTL story window + lateness
 *   P:baseline:<name>, P:baselines             captured baselines (no TTL) and their names
 * One hash per (partition, bucket, dimension) rather than one per group needs one EXPIRE per
 * dimension and bucket instead of one per group, and lets the reader fetch all groups of a bucket in
 * one HGETALL (no group index). The script sums a batch in Lua first, so each (group, counter) of a
 * batch costs one HINCRBY however many documents hit it. (Measured alternatives, no faster on the
 * server: HMGET + HSET read-modify-write per hash; pre-aggregating in the client with an optimistic
 * check of the stored offset and watermark.)
 * Counter keys expire `ttlSeconds` after their last write (longest window + trailing
 * reference + lateness + slack); state and baselines do not expire. Only numbers and sanitised group
 * values are stored, never text.
 *
 * Effectively-once. One script call per StatsBatch reads the partition's stored offset; a batch whose
 * lastOffset is not above it is a replay and changes nothing. Otherwise the script applies the
 * observations above the stored offset (all of them when observations carry no offset) and stores
 * lastOffset, atomically. All batches of one apply() go out in one pipeline per Redis node: one round
 * trip on a single Redis, one per node touched (concurrently) on a cluster.
 *
 * Event time and lateness (src/stats/event-time.ts, docs/guarantees.md#event-time). Each partition
 * keeps its own event clock `wm` (max event time counted); its watermark is wm − allowedLateness, as
 * Flink's bounded out-of-orderness. An observation older than that is `late`; one more than
 * maxFutureSkew ahead of the clock (plus the wall time the partition was quiet) is `future` and cannot
 * move the clock (a run of consecutive ones can: a gap in the data). Neither is added; both are counted
 * in the state (`late`, `fut`) and returned by id for the late-records topic. Since a partition's
 * records always arrive in offset order, the late decision depends only on the partition's own
 * history — never on how partitions interleave. The store's watermark is the maximum over partitions;
 * windows are evaluated as of it: end = floor(watermark / bucket) · bucket + bucket (exclusive),
 * start = end − window.
 *
 * The window rules themselves (buckets, window ends, top groups, TTL from config, the items a batch
 * becomes) live in src/stats/windows/rules.ts, shared with the in-memory store
 * (src/stats/windows/memory-store.ts); this file is the Redis state backend only.
 */

// Re-exported for the store's existing callers; the rules live in src/stats/windows.
export { topGroupsByVolume, windowEndFor, windowStoreOptions } from '../../stats/windows/rules.js';
export type { WindowStoreOptions } from '../../stats/windows/rules.js';
export type { BaselineSnapshot } from '../../stats/windows/baseline.js';

// KEYS[1] = the partition's state hash; every key written shares its hash tag (same slot).
// ARGV[1] base key of the shard, ARGV[2] allowed lateness (ms), ARGV[3] TTL (s), ARGV[4] lastOffset,
// ARGV[5] JSON items: [offset or "", eventTimeMs, bucketStart, [dim, group, …], [field, delta, …],
// the record's own now (recordNow)],
// ARGV[6] max future skew (ms), ARGV[7] wall clock now (ms), ARGV[8] fingerprint of the record at lastOffset
// ('' none), ARGV[9] '1' when the state must exist (src/pipeline/state-guard.ts), ARGV[10] JSON group
// budget {defaultMax, byDimension, bucketMs} (src/stats/windows/group-budget.ts).
// Returns {applied, late, event clock, future, {index (0-based), reason code 1 late / 2 future, …},
// {dimension, items folded, …}};
// applied -1: the state was expected and is missing (lost), nothing written.
const APPLY_SCRIPT = `
local OTHER = '${FOLDED_GROUP}'
local state = KEYS[1]
local base = ARGV[1]
local lateness = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local lastOffset = ARGV[4]
local skew = tonumber(ARGV[6])
local now = tonumber(ARGV[7])
local function cmpOffset(a, b)
  if #a ~= #b then if #a < #b then return -1 else return 1 end end
  if a == b then return 0 end
  if a < b then return -1 else return 1 end
end
if ARGV[9] == '1' and redis.call('EXISTS', state) == 0 then return {-1, 0, '0', 0, {}} end
local st = redis.call('HMGET', state, 'off', 'wm', 'at', 'fr', 'fs')
local stored = st[1]
if stored and cmpOffset(lastOffset, stored) <= 0 then
  return {0, 0, st[2] or '0', 0, {}}
end
-- Event time (src/stats/event-time.ts admitEventTime, the same arithmetic): wm is the partition's event
-- clock (max event time counted), at the wall time it last moved, fr/fs the current run of future records.
local wm, at, fr, fs = nil, tonumber(st[3] or '0'), tonumber(st[4] or '0'), tonumber(st[5] or '0')
if st[2] then wm = tonumber(st[2]) end
-- rnow: the record's own time (recordNow: its Kafka timestamp on the store's clock, at most now).
local function admit(t, rnow)
  local ceiling
  if wm then
    local quiet = rnow - at
    if quiet < 0 then quiet = 0 end
    ceiling = wm + skew + quiet
  else
    ceiling = rnow + skew
  end
  if t > ceiling then
    if fr > 0 and math.abs(t - fs) <= skew then fr = fr + 1 else fr = 1; fs = t end
    if fr < ${FUTURE_RUN_TO_JUMP} then return 2 end
    wm = t; at = math.max(at, rnow); fr = 0; fs = 0
    return 0
  end
  fr = 0; fs = 0
  if wm and t < wm - lateness then return 1 end
  if (not wm) or t > wm then wm = t; at = math.max(at, rnow) end
  return 0
end
local items = cjson.decode(ARGV[5])
local acc, keys = {}, {}
local late, future, refused = 0, 0, {}
for i = 1, #items do
  local it = items[i]
  local off = it[1]
  if (not stored) or off == '' or cmpOffset(off, stored) > 0 then
    local verdict = admit(it[2], it[6])
    if verdict ~= 0 then
      if verdict == 1 then late = late + 1 else future = future + 1 end
      refused[#refused + 1] = i - 1
      refused[#refused + 1] = verdict
    else
      local b, g, f = it[3], it[4], it[5]
      for j = 1, #g, 2 do
        local key = base .. ':c:' .. b .. ':' .. g[j]
        local a = acc[key]
        if not a then
          a = {dim = g[j], bucket = b, sums = {}, order = {}, weight = {}, first = {}}
          acc[key] = a; keys[#keys + 1] = key
        end
        local grp = g[j + 1]
        local fields = a.sums[grp]
        if not fields then
          fields = {}; a.sums[grp] = fields; a.order[#a.order + 1] = grp
          a.weight[grp] = 0; a.first[grp] = #a.order
        end
        a.weight[grp] = a.weight[grp] + 1
        for k = 1, #f, 2 do fields[f[k]] = (fields[f[k]] or 0) + f[k + 1] end
      end
    end
  end
end
-- The cardinality budget (src/stats/windows/group-budget.ts admitNewGroups, the same rule): a hash
-- admits new groups ("<group>|_" marker, "_g" their number) while it holds fewer than its dimension's
-- budget, heaviest of the batch first, the reserve only to groups with 2+ documents in the bucket
-- before; the others' sums go to the group OTHER.
local budgets = cjson.decode(ARGV[10])
local folded = {}
-- HMGET / HSET of many fields in chunks (one call per 500, not one per field; unpack stays small).
local CHUNK = 500
local function hmgetMany(key, names)
  local out = {}
  for s = 1, #names, CHUNK do
    local vals = redis.call('HMGET', key, unpack(names, s, math.min(s + CHUNK - 1, #names)))
    for k = 1, #vals do out[#out + 1] = vals[k] end
  end
  return out
end
local function markMany(key, groups)
  for s = 1, #groups, CHUNK do
    local args = {}
    for k = s, math.min(s + CHUNK - 1, #groups) do args[#args + 1] = groups[k] .. '|_'; args[#args + 1] = '1' end
    redis.call('HSET', key, unpack(args))
  end
end
local function suffixed(groups, from, suffix)
  local out = {}
  for k = from, #groups do out[#out + 1] = groups[k] .. suffix end
  return out
end
local function foldOverBudget(key, a)
  local max = budgets.byDimension[a.dim] or budgets.defaultMax
  if max <= 0 then return end
  local named = {}
  for _, grp in ipairs(a.order) do if grp ~= OTHER then named[#named + 1] = grp end end
  local marked = hmgetMany(key, suffixed(named, 1, '|_'))
  local fresh = {}
  for k = 1, #named do if not marked[k] then fresh[#fresh + 1] = named[k] end end
  if #fresh == 0 then return end
  table.sort(fresh, function(x, y)
    if a.weight[x] ~= a.weight[y] then return a.weight[x] > a.weight[y] end
    return a.first[x] < a.first[y]
  end)
  local held = tonumber(redis.call('HGET', key, '_g') or '0')
  local open = max - math.floor(max * ${RECURRING_RESERVE_SHARE})
  local admitted, k = {}, 1
  while k <= #fresh and held < open do admitted[#admitted + 1] = fresh[k]; held = held + 1; k = k + 1 end
  -- The reserve: only groups with RECURRING_MIN_COUNT+ documents in the bucket before.
  local counts = {}
  if k <= #fresh and held < max then
    local before = base .. ':c:' .. string.format('%.0f', tonumber(a.bucket) - budgets.bucketMs) .. ':' .. a.dim
    counts = hmgetMany(before, suffixed(fresh, k, '|n'))
  end
  for j = k, #fresh do
    local grp = fresh[j]
    if held < max and tonumber(counts[j - k + 1] or '0') >= ${RECURRING_MIN_COUNT} then
      admitted[#admitted + 1] = grp; held = held + 1
    else
      local other = a.sums[OTHER]
      if not other then other = {}; a.sums[OTHER] = other end
      for name, delta in pairs(a.sums[grp]) do other[name] = (other[name] or 0) + delta end
      a.sums[grp] = nil
      folded[a.dim] = (folded[a.dim] or 0) + a.weight[grp]
    end
  end
  markMany(key, admitted)
  redis.call('HSET', key, '_g', held)
end
local wmStr = '0'
if wm then wmStr = string.format('%.0f', wm) end
-- One HINCRBY per (hash, field) of the batch's sums: measured faster inside Lua than HMGET + HSET of
-- the same fields (no reply tables to build), and exact on 64-bit integers.
for _, key in ipairs(keys) do
  local a = acc[key]
  foldOverBudget(key, a)
  for grp, fields in pairs(a.sums) do
    for name, delta in pairs(fields) do
      if delta ~= 0 then redis.call('HINCRBY', key, grp .. '|' .. name, string.format('%.0f', delta)) end
    end
  end
  -- The offset and event clock of the last batch that wrote the hash: a lost state is rebuilt from these.
  redis.call('HSET', key, '_off', lastOffset, '_wm', wmStr)
  redis.call('EXPIRE', key, ttl)
end
redis.call('HSET', state, 'off', lastOffset, 'wm', wmStr, 'at', string.format('%.0f', at),
  'fr', fr, 'fs', string.format('%.0f', fs))
if ARGV[8] ~= '' then redis.call('HSET', state, 'fp', ARGV[8]) else redis.call('HDEL', state, 'fp') end
if late > 0 then redis.call('HINCRBY', state, 'late', late) end
if future > 0 then redis.call('HINCRBY', state, 'fut', future) end
local foldedFlat = {}
for dim, n in pairs(folded) do foldedFlat[#foldedFlat + 1] = dim; foldedFlat[#foldedFlat + 1] = n end
return {1, late, wmStr, future, refused, foldedFlat}
`;

// Story claims (src/stats/windows/story-claims.ts, the same rules): KEYS = claim keys of one
// (dimension, group), one hash tag, one slot; ARGV[1] story window (ms), ARGV[2] claim TTL (ms), then
// per key its claimant and event time. A claim is "<event time> <claimant>". Returns 1 (counted) or
// 0 (a copy of a story already counted in the group) per key.
const CLAIM_SCRIPT = `
local window, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local who, t = ARGV[2 * i + 1], tonumber(ARGV[2 * i + 2])
  local cur = redis.call('GET', key)
  local ok = 1
  if cur then
    local sep = string.find(cur, ' ', 1, true)
    if string.sub(cur, sep + 1) ~= who and t - tonumber(string.sub(cur, 1, sep - 1)) < window then ok = 0 end
  end
  if ok == 1 then redis.call('SET', key, string.format('%.0f', t) .. ' ' .. who, 'PX', ttl) end
  out[i] = ok
end
return out
`;

// Gives claims back (records refused as late or future): KEYS as above, ARGV[i] the claim's value;
// deleted only while still that claim.
const RELEASE_SCRIPT = `
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then redis.call('DEL', key) end
end
return 0
`;

/** The apply script's reply: {applied, late, event clock, future, refused flat, folded flat}. */
type ApplyReply = [number, number, string, number, Array<number | string>, Array<number | string>];

function callOutcome(r: ApplyReply): CallOutcome {
  return {
    applied: Number(r[0]),
    late: Number(r[1]),
    future: Number(r[3]),
    watermarkMs: Number(r[2]),
    refused: (r[4] ?? []).map(Number),
    folded: foldedCounts(r[5]),
  };
}

interface ScriptCall {
  /** A key of the call (all its keys share one slot): routes it to its node. */
  key: string;
  keys: readonly string[];
  args: readonly string[];
}

class Script {
  readonly sha: string;
  constructor(readonly text: string) {
    this.sha = createHash('sha1').update(text).digest('hex');
  }
}

// One counter hash as one string, "<field>\n<value>\n…": a long window is hundreds of thousands of
// fields, and parsing them as separate reply elements cost the reader ~3× more than splitting one string
// (sanitised groups and counter names never hold a newline). A hash is bounded by the group budget, so
// one call holds Redis a few ms (docs/guarantees.md "Cardinality budget").
const READ_HASH_SCRIPT = `return table.concat(redis.call('HGETALL', KEYS[1]), '\\n')`;

const APPLY = new Script(APPLY_SCRIPT);
const READ_HASH = new Script(READ_HASH_SCRIPT);
const CLAIM = new Script(CLAIM_SCRIPT);
const RELEASE = new Script(RELEASE_SCRIPT);

const claimArgs = (c: StoryClaim): string[] => [c.claimant, String(c.eventTimeMs)];
const releaseArgs = (c: StoryClaim): string[] => [claimValue(c)];

/** Adds a stored counter's value (a numeric string) to the counters being summed. */
function addCounter(raw: RawCounters, counter: string, stored: string): void {
  const value = Number(stored);
  if (Number.isFinite(value)) raw.set(counter, (raw.get(counter) ?? 0) + value);
}

interface QueuedOp {
  key: string;
  add: (p: ChainableCommander) => void;
}

export class RedisWindowStore implements StatsSink, WindowReader, PartitionStateStore {
  private readonly registered = new Set<string>();
  /** Network round trips this store has made (each pipeline/command sent and awaited counts once). */
  roundTrips = 0;
  /** apply() calls made; roundTrips / applyCalls is the round trips per apply. */
  applyCalls = 0;

  constructor(
    readonly redis: RedisClient,
    readonly options: WindowStoreOptions,
  ) {
    // Braces are reserved for the partition hash tag.
    if (!/^[A-Za-z0-9:_-]+$/.test(options.keyPrefix))
      throw new Error(`invalid key prefix "${options.keyPrefix}"`);
    if (!(options.bucketMs > 0)) throw new Error('bucketMs must be positive');
  }

  private shardBase(partitionKey: string): string {
    if (!/^[^{}\s]+$/.test(partitionKey)) throw new Error(`invalid partition key "${partitionKey}"`);
    return `${this.options.keyPrefix}:s:{${partitionKey}}`;
  }

  private get registryKey(): string {
    return `${this.options.keyPrefix}:partitions`;
  }

  /**
   * Runs commands in as few round trips as Redis allows: one pipeline on a single Redis; on a cluster
   * one pipeline per node owning the keys (ioredis requires a pipeline's keys to live on one node),
   * sent concurrently. Replies ([error, value]) come back in the order of `ops`.
   */
  private async execByNodeSettled(ops: readonly QueuedOp[]): Promise<Array<[Error | null, unknown]>> {
    if (ops.length === 0) return [];
    const groups = new Map<string, number[]>();
    if (isCluster(this.redis)) {
      const slots = this.redis.slots;
      ops.forEach((op, i) => {
        const node = slots[calculateSlot(op.key)]?.[0] ?? `slot:${calculateSlot(op.key)}`;
        const list = groups.get(node);
        if (list) list.push(i);
        else groups.set(node, [i]);
      });
    } else {
      groups.set(
        'single',
        ops.map((_, i) => i),
      );
    }
    const results = new Array<[Error | null, unknown]>(ops.length);
    await Promise.all(
      [...groups.values()].map(async (indices) => {
        const pipeline = this.redis.pipeline();
        for (const i of indices) ops[i]!.add(pipeline);
        this.roundTrips += 1;
        const replies = (await pipeline.exec()) ?? [];
        replies.forEach(([err, value], j) => (results[indices[j]!] = [err ?? null, value]));
      }),
    );
    return results;
  }

  /** As execByNodeSettled, throwing the first command error. */
  private async execByNode(ops: readonly QueuedOp[]): Promise<unknown[]> {
    return (await this.execByNodeSettled(ops)).map(([err, value]) => {
      if (err) throw err;
      return value;
    });
  }

  /**
   * Runs one script per call in as few round trips as Redis allows (execByNodeSettled), with `extra`
   * commands in the same pipelines. NOSCRIPT (empty script cache after a restart, failover or on a
   * new node) means that call did not run: exactly those are resent with EVAL, which also caches the
   * script for the next EVALSHA. Replies of the calls, then of `extra`; the first error throws.
   */
  private async evalAll(script: Script, calls: readonly ScriptCall[], extra: QueuedOp[] = []) {
    const ops: QueuedOp[] = calls.map((c) => ({
      key: c.key,
      add: (p) => void p.evalsha(script.sha, c.keys.length, ...c.keys, ...c.args),
    }));
    const settled = await this.execByNodeSettled([...ops, ...extra]);
    const missing = calls.map((_, i) => i).filter((i) => settled[i]![0]?.message.includes('NOSCRIPT'));
    if (missing.length > 0) {
      const retried = await this.execByNodeSettled(
        missing.map((i) => ({
          key: calls[i]!.key,
          add: (p: ChainableCommander) =>
            void p.eval(script.text, calls[i]!.keys.length, ...calls[i]!.keys, ...calls[i]!.args),
        })),
      );
      missing.forEach((i, j) => (settled[i] = retried[j]!));
    }
    return settled.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
  }

  /** One script call per (dimension, group) of story claims: its keys share the group's hash tag. */
  private storyCalls(
    byTag: readonly StoryClaim[][],
    head: readonly string[],
    args: (c: StoryClaim) => string[],
  ): ScriptCall[] {
    return byTag.map((group) => {
      const keys = group.map((c) => `${this.options.keyPrefix}:${c.key}`);
      return { key: keys[0]!, keys, args: [...head, ...group.flatMap(args)] };
    });
  }

  /** Claims the batches' stories (one script call per (dimension, group)); granted per claim. */
  private async claimStories(claims: readonly StoryClaim[]): Promise<boolean[]> {
    if (claims.length === 0) return [];
    const byTag = claimsByTag(claims);
    const { windowMs } = this.options.stories!;
    const head = [String(windowMs), String(windowMs + this.options.allowedLatenessMs)];
    const replies = await this.evalAll(CLAIM, this.storyCalls(byTag, head, claimArgs));
    const granted = new Map<StoryClaim, boolean>();
    byTag.forEach((group, i) =>
      group.forEach((c, j) => granted.set(c, Number((replies[i] as number[])[j]) === 1)),
    );
    return claims.map((c) => granted.get(c)!);
  }

  async apply(batches: StatsBatch[]): Promise<StatsApplyResult[]> {
    this.applyCalls += 1;
    if (batches.length === 0) return [];
    // Validated before anything is written (a bad batch throws and changes nothing).
    const prepared = batches.map((batch) => ({
      base: this.shardBase(batch.partitionKey),
      lastOffset: normalizeOffset(batch.lastOffset),
      items: windowItems(batch, this.options.bucketMs),
    }));
    const claims = this.options.stories ? storyClaims(batches, this.options.stories) : [];
    const granted = await this.claimStories(claims);
    const counted = withoutCopies(batches, claims, granted);
    const { nowMs, at } = storeNow(this.options);
    const budgetJson = JSON.stringify({
      ...(this.options.groupBudget ?? NO_GROUP_BUDGET),
      bucketMs: this.options.bucketMs,
    });
    // One script call per chunk of a batch (rules.ts itemChunks): a call holds Redis briefly.
    const chunked = prepared.map(({ lastOffset, items }, b) => {
      const batchItems = (
        counted.copies[b]! > 0 ? windowItems(counted.batches[b]!, this.options.bucketMs) : items
      ).map((it) => [...it.slice(0, 5), recordNow(it[5], nowMs, at)] as WindowItem);
      return { items: batchItems, chunks: itemChunks(batchItems, lastOffset) };
    });
    const calls = chunked.flatMap(({ items, chunks }, b) =>
      chunks.map((chunk, c) => {
        const { base } = prepared[b]!;
        const last = c === chunks.length - 1;
        const args = [
          base,
          String(this.options.allowedLatenessMs),
          String(this.options.ttlSeconds),
          chunk.lastOffset,
          JSON.stringify(items.slice(chunk.from, chunk.to)),
          String(this.options.maxFutureSkewMs ?? this.options.allowedLatenessMs),
          String(nowMs),
          last ? (batches[b]!.lastFingerprint ?? '') : '',
          batches[b]!.expectState ? '1' : '',
          budgetJson,
        ];
        return { key: `${base}:state`, keys: [`${base}:state`], args };
      }),
    );
    const newPartitions = [...new Set(batches.map((b) => b.partitionKey))].filter(
      (pk) => !this.registered.has(pk),
    );
    // Registering a partition is idempotent and only needed once per process; it rides in the same pipeline.
    const extra: QueuedOp[] =
      newPartitions.length > 0
        ? [{ key: this.registryKey, add: (p) => void p.sadd(this.registryKey, ...newPartitions) }]
        : [];
    const replies = (await this.evalAll(APPLY, calls, extra)) as ApplyReply[];
    for (const pk of newPartitions) this.registered.add(pk);
    let next = 0;
    const outcomes = chunked.map(({ chunks }) =>
      mergeCallOutcomes(
        chunks,
        chunks.map(() => callOutcome(replies[next++]!)),
      ),
    );
    const release = claimsToRelease(
      claims,
      granted,
      outcomes.map((o) => refusedIndices(o.refused)),
    );
    if (release.length > 0)
      await this.evalAll(RELEASE, this.storyCalls(claimsByTag(release), [], releaseArgs));
    return outcomes.map((o, i) => withStoryCopies(applyResultOf(batches[i]!, o), counted.copies[i]!));
  }

  async readState(partitionKey: string): Promise<StoredPartitionState> {
    const state = `${this.shardBase(partitionKey)}:state`;
    this.roundTrips += 1;
    const [off = null, fp = null, f0o = null, f0 = null] = await this.redis.hmget(
      state,
      'off',
      'fp',
      'f0o',
      'f0',
    );
    const exists = off !== null || fp !== null || f0o !== null || (await this.redis.exists(state)) === 1;
    return {
      exists,
      offset: off,
      fingerprint: fp,
      first: f0o !== null && f0 !== null ? { offset: f0o, fingerprint: f0 } : null,
    };
  }

  /** Scans the partition's counter hashes (rare: only when its state is missing) for the highest `_off`. */
  async countedState(partitionKey: string): Promise<CountedState | null> {
    const base = this.shardBase(partitionKey);
    const nodes = isCluster(this.redis) ? this.redis.nodes('master') : [this.redis];
    let max: CountedState | null = null;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${base}:c:*`, 'COUNT', 1000);
        cursor = next;
        const pipeline = node.pipeline();
        for (const key of keys) pipeline.hmget(key, '_off', '_wm');
        for (const [err, value] of keys.length > 0 ? ((await pipeline.exec()) ?? []) : []) {
          const [offset, wm] = (value ?? []) as Array<string | null>;
          if (err || !offset) continue;
          if (max === null || compareOffsets(offset, max.offset) > 0)
            max = { offset, watermarkMs: wm ?? null };
        }
      } while (cursor !== '0');
    }
    return max;
  }

  async writeState(partitionKey: string, state: StateWrite): Promise<void> {
    const key = `${this.shardBase(partitionKey)}:state`;
    const tx = this.redis.multi();
    if (state.offset !== undefined) tx.hdel(key, 'off', 'fp');
    if (typeof state.offset === 'string') tx.hset(key, 'off', normalizeOffset(state.offset));
    if (state.watermarkMs) tx.hset(key, 'wm', state.watermarkMs, 'at', String(Date.now()));
    if (state.first) tx.hset(key, 'f0o', state.first.offset, 'f0', state.first.fingerprint);
    tx.hset(key, 'rs', state.reason, 'rsat', String(Date.now()));
    this.roundTrips += 1;
    await tx.exec();
  }

  /** Partition keys whose shards hold statistics. */
  async partitions(): Promise<string[]> {
    this.roundTrips += 1;
    return (await this.redis.smembers(this.registryKey)).sort();
  }

  private async partitionStates(): Promise<
    Array<{ partitionKey: string; offset: string | null; watermarkMs: number; late: number }>
  > {
    const parts = await this.partitions();
    const replies = await this.execByNode(
      parts.map((pk) => {
        const key = `${this.shardBase(pk)}:state`;
        return { key, add: (p: ChainableCommander) => void p.hmget(key, 'off', 'wm', 'late') };
      }),
    );
    return parts.map((pk, i) => {
      const [off, wm, late] = replies[i] as [string | null, string | null, string | null];
      return { partitionKey: pk, offset: off, watermarkMs: Number(wm ?? 0), late: Number(late ?? 0) };
    });
  }

  /** Last applied offset per partition (what a consumer may safely resume after). */
  async appliedOffsets(): Promise<Record<string, string | null>> {
    return Object.fromEntries((await this.partitionStates()).map((s) => [s.partitionKey, s.offset]));
  }

  async watermark(): Promise<number> {
    const states = await this.partitionStates();
    return states.reduce((m, s) => Math.max(m, s.watermarkMs), 0);
  }

  async partitionWatermarks(): Promise<Map<string, number>> {
    return new Map((await this.partitionStates()).map((s) => [s.partitionKey, s.watermarkMs]));
  }

  async lateCount(): Promise<number> {
    const states = await this.partitionStates();
    return states.reduce((sum, s) => sum + s.late, 0);
  }

  private async resolveWindow(query: WindowQuery) {
    const watermarkMs = query.endMs === undefined ? await this.watermark() : 0;
    return resolveWindow(query, watermarkMs, this.options.bucketMs);
  }

  /**
   * The counter hashes of some dimensions for every (partition, bucket) of a window, in one pipelined
   * phase: each hash's fields and values alternating, as READ_HASH returns them.
   */
  private async readDimensionHashes(
    dimensions: readonly string[],
    buckets: readonly number[],
  ): Promise<Array<{ dimension: string; bucket: number; fields: string[] }>> {
    const parts = await this.partitions();
    const reads: Array<ScriptCall & { dimension: string; bucket: number }> = [];
    for (const pk of parts) {
      const base = this.shardBase(pk);
      for (const dimension of dimensions) {
        for (const bucket of buckets) {
          const key = `${base}:c:${bucket}:${dimension}`;
          reads.push({ key, keys: [key], args: [], dimension, bucket });
        }
      }
    }
    const packed = await this.evalAll(READ_HASH, reads);
    return reads.map((read, i) => ({
      dimension: read.dimension,
      bucket: read.bucket,
      fields: packed[i] === '' ? [] : String(packed[i]).split('\n'),
    }));
  }

  /** All groups of a dimension in a window, summed over buckets and partition shards; largest first. */
  async readWindow(query: WindowQuery): Promise<GroupWindowStats[]> {
    const window = await this.resolveWindow(query);
    if (!window) return [];
    return (await this.sumWindows([query.dimension], window.buckets))[query.dimension] ?? [];
  }

  /**
   * Several dimensions' windows ending at the same instant (default: as of the watermark), read in one
   * pipelined phase — for the evaluator, reports and baselines.
   */
  async readWindows(
    dimensions: readonly string[],
    windowMs: number,
    endMs?: number,
  ): Promise<{ endMs: number; dimensions: Record<string, GroupWindowStats[]> } | null> {
    const window = await this.resolveWindow({ dimension: ALL_DIMENSION, windowMs, endMs });
    if (!window) return null;
    return { endMs: window.end, dimensions: await this.sumWindows(dimensions, window.buckets) };
  }

  private async sumWindows(
    dimensions: readonly string[],
    buckets: readonly number[],
  ): Promise<Record<string, GroupWindowStats[]>> {
    // Summed straight from the replies ("<group>|<counter>" fields): long windows of unbounded
    // dimensions are hundreds of thousands of fields, so no per-bucket intermediate objects.
    const merged = new Map<string, Map<string, RawCounters>>(dimensions.map((d) => [d, new Map()]));
    for (const { dimension, fields } of await this.readDimensionHashes(dimensions, buckets)) {
      const groups = merged.get(dimension)!;
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const field = fields[i]!;
        const sep = field.indexOf('|');
        if (sep <= 0) continue;
        const group = field.slice(0, sep);
        let raw = groups.get(group);
        if (!raw) groups.set(group, (raw = new Map()));
        addCounter(raw, field.slice(sep + 1), fields[i + 1]!);
      }
    }
    const out: Record<string, GroupWindowStats[]> = {};
    for (const [dimension, groups] of merged) out[dimension] = groupStatsOf(dimension, groups);
    return out;
  }

  /** Per-bucket stats of one group, every bucket of the window in ascending order (empty buckets included). */
  async readSeries(query: WindowQuery & { group: string }): Promise<Array<[number, GroupWindowStats]>> {
    return (await this.readSeriesOfGroups({ ...query, groups: [query.group] })).get(query.group) ?? [];
  }

  /**
   * readSeries of several groups of one dimension from one fetch of the window's hashes (a report's
   * top-K change checks read the window once, not once per group).
   */
  async readSeriesOfGroups(
    query: WindowQuery & { groups: readonly string[] },
  ): Promise<Map<string, Array<[number, GroupWindowStats]>>> {
    const window = await this.resolveWindow(query);
    const out = new Map<string, Array<[number, GroupWindowStats]>>();
    if (!window) return out;
    const wanted = new Set(query.groups);
    const perBucket = new Map<string, Map<number, RawCounters>>(
      query.groups.map((g) => [g, new Map(window.buckets.map((b) => [b, new Map()]))]),
    );
    for (const { bucket, fields } of await this.readDimensionHashes([query.dimension], window.buckets)) {
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const field = fields[i]!;
        const sep = field.indexOf('|');
        const group = field.slice(0, sep);
        if (sep <= 0 || !wanted.has(group)) continue;
        addCounter(perBucket.get(group)!.get(bucket)!, field.slice(sep + 1), fields[i + 1]!);
      }
    }
    for (const [group, buckets] of perBucket)
      out.set(
        group,
        window.buckets.map((b) => [b, rawToGroupStats(query.dimension, group, buckets.get(b)!)]),
      );
    return out;
  }

  /** Windows of every configured dimension (plus `_all`) ending at the same instant. */
  async readAllDimensions(
    windowMs: number,
    endMs?: number,
  ): Promise<{ endMs: number; dimensions: Record<string, GroupWindowStats[]> } | null> {
    return this.readWindows(
      [ALL_DIMENSION, ...this.options.dimensions.filter((d) => d !== ALL_DIMENSION)],
      windowMs,
      endMs,
    );
  }

  private baselineKey(name: string): string {
    return `${this.options.keyPrefix}:baseline:${checkBaselineName(name)}`;
  }

  /** Persists the window ending at the current watermark (all dimensions) as a named reference, without TTL. */
  async captureBaseline(
    name: string,
    windowMs: number,
    nowMs: number = Date.now(),
  ): Promise<BaselineSnapshot> {
    const key = this.baselineKey(name);
    const snapshot = await snapshotBaseline(this, name, windowMs, this.options.bucketMs, nowMs);
    this.roundTrips += 1;
    await this.redis.set(key, JSON.stringify(snapshot));
    this.roundTrips += 1;
    await this.redis.sadd(`${this.options.keyPrefix}:baselines`, name);
    return snapshot;
  }

  async readBaseline(name: string): Promise<BaselineSnapshot | null> {
    this.roundTrips += 1;
    const text = await this.redis.get(this.baselineKey(name));
    return text === null ? null : (JSON.parse(text) as BaselineSnapshot);
  }

  async listBaselines(): Promise<string[]> {
    this.roundTrips += 1;
    return (await this.redis.smembers(`${this.options.keyPrefix}:baselines`)).sort();
  }

  /** Removes every key under this store's prefix (tests and `finsentry` maintenance), node by node. */
  async deleteAll(): Promise<number> {
    const nodes = isCluster(this.redis) ? this.redis.nodes('master') : [this.redis];
    let deleted = 0;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${this.options.keyPrefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) {
          // Keys of one SCAN page may hash to different slots: unlink them one command each, pipelined.
          const pipeline = node.pipeline();
          for (const key of keys) pipeline.unlink(key);
          for (const [err, n] of (await pipeline.exec()) ?? []) if (!err) deleted += Number(n);
        }
      } while (cursor !== '0');
    }
    return deleted;
  }
}

/** Store + client from config; `close()` disconnects the client. */
export function openWindowStore(
  cfg: FinsentryConfig,
  client: RedisClient = createRedisClient(cfg.redis),
): { store: RedisWindowStore; close: () => Promise<void> } {
  const store = new RedisWindowStore(client, windowStoreOptions(cfg));
  return {
    store,
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
