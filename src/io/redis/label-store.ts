import { createHash } from 'node:crypto';
import type { SentimentLabel } from '../../domain/enrichment.js';
import type { JoinedLabel, LabelApplyCounts } from '../../domain/windows.js';
import type { FinsentryConfig } from '../../config/schema.js';
import { type RedisClient } from './client.js';
import { windowBucketStart } from '../../stats/event-time.js';

/**
 * Delayed labels in the window store (design §5, docs/guarantees.md#labels): the confusion-matrix
 * counters of a labelled document, in the bucket of the DOCUMENT's event time however late the label
 * comes, one label per document. A relabel replaces the previous label's contribution; applying the
 * same label again (a replay after a crash) changes nothing, so no offset bookkeeping is needed.
 * A label older (labelled_at) than the one applied is stale and ignored: the newest label wins
 * whatever order they arrive in.
 *
 * Layout: the counters live in LABEL_SHARDS label shards `P:s:{lab-<n>}` (n from the document key),
 * registered in `P:partitions` like an input partition, so every window reader sums them with the
 * documents' counters. Their state hash holds only `kind labels`, no watermark: label shards never
 * hold back the evaluation watermark. Per labelled document: `P:s:{lab-<n>}:lab:<document key>` = "<actual>|<labelled
 * at>" with the label grace period as TTL. Document keys are hashes (src/stats/label-join rules): no
 * raw id, no `{`, news and chat apart.
 */

/** Few shards: readers fetch every shard's buckets; relabels of one document always meet in one. */
export const LABEL_SHARDS = 4;

const CODES: Record<SentimentLabel, string> = { negative: 'n', neutral: 'u', positive: 'p' };

// KEYS[1] the shard's base key (only its hash tag matters for the slot); ARGV[1] TTL of a document's
// label memory (s), ARGV[2] counter TTL (s), ARGV[3] JSON items:
// [documentKey, bucket, [dim, group, …], predicted code, actual code, labelledAtMs].
// Returns {counted, replaced, unchanged, stale}.
const LABEL_SCRIPT = `
local base = KEYS[1]
local memoryTtl = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local items = cjson.decode(ARGV[3])
local counted, replaced, unchanged, stale = 0, 0, 0, 0
local function add(bucket, groups, actual, predicted, delta)
  for j = 1, #groups, 2 do
    local key = base .. ':c:' .. bucket .. ':' .. groups[j]
    redis.call('HINCRBY', key, groups[j + 1] .. '|cm:' .. actual .. ':' .. predicted, delta)
    redis.call('EXPIRE', key, ttl)
  end
end
for i = 1, #items do
  local it = items[i]
  local memory = base .. ':lab:' .. it[1]
  local at = tonumber(it[6])
  local prev = redis.call('GET', memory)
  local prevActual, prevAt = nil, nil
  if prev then
    local sep = string.find(prev, '|', 1, true)
    prevActual = string.sub(prev, 1, sep - 1)
    prevAt = tonumber(string.sub(prev, sep + 1))
  end
  if prev and prevAt > at then
    stale = stale + 1
  elseif prev and prevActual == it[5] then
    unchanged = unchanged + 1
    redis.call('SET', memory, it[5] .. '|' .. string.format('%.0f', at), 'EX', memoryTtl)
  else
    if prev then
      add(it[2], it[3], prevActual, it[4], -1)
      replaced = replaced + 1
    else
      counted = counted + 1
    end
    add(it[2], it[3], it[5], it[4], 1)
    redis.call('SET', memory, it[5] .. '|' .. string.format('%.0f', at), 'EX', memoryTtl)
  end
end
-- A state hash like an input partition's, marked as a label shard and without a watermark (wm), so
-- that a check for shards that lost their state hash does not mistake it, and no watermark reads it.
redis.call('HSET', base .. ':state', 'kind', 'labels')
return {counted, replaced, unchanged, stale}
`;

const LABEL_SHA = createHash('sha1').update(LABEL_SCRIPT).digest('hex');

export function labelShardKey(documentKey: string): string {
  const n = parseInt(documentKey.slice(0, 2), 16);
  return `lab-${(Number.isFinite(n) ? n : 0) % LABEL_SHARDS}`;
}

export class RedisLabelStore {
  private readonly registered = new Set<string>();

  constructor(
    private readonly redis: RedisClient,
    private readonly options: {
      keyPrefix: string;
      bucketMs: number;
      /** Counter lifetime after a write (the window store's ttlSeconds). */
      ttlSeconds: number;
      /** How long a document's applied label is remembered (the label grace period). */
      memorySeconds: number;
    },
  ) {}

  /** Applies labels, one script call per label shard (in input order within a shard). */
  async apply(labels: readonly JoinedLabel[]): Promise<LabelApplyCounts> {
    const byShard = new Map<string, unknown[]>();
    for (const l of labels) {
      if (!/^[0-9a-f]{8,}$/.test(l.documentKey)) throw new Error(`invalid document key "${l.documentKey}"`);
      const groups: string[] = [];
      for (const g of l.groups) groups.push(g.dimension, g.value);
      const shard = labelShardKey(l.documentKey);
      const items = byShard.get(shard) ?? [];
      items.push([
        l.documentKey,
        String(windowBucketStart(l.documentEventTimeMs, this.options.bucketMs)),
        groups,
        CODES[l.predicted],
        CODES[l.actual],
        Math.floor(l.labelledAtMs),
      ]);
      byShard.set(shard, items);
    }
    const total: LabelApplyCounts = { counted: 0, replaced: 0, unchanged: 0, stale: 0 };
    const fresh = [...byShard.keys()].filter((s) => !this.registered.has(s));
    if (fresh.length > 0) await this.redis.sadd(`${this.options.keyPrefix}:partitions`, ...fresh);
    fresh.forEach((s) => this.registered.add(s));
    const replies = await Promise.all(
      [...byShard].map(([shard, items]) => this.run(`${this.options.keyPrefix}:s:{${shard}}`, items)),
    );
    for (const [counted, replaced, unchanged, stale] of replies) {
      total.counted += counted;
      total.replaced += replaced;
      total.unchanged += unchanged;
      total.stale += stale;
    }
    return total;
  }

  private async run(base: string, items: unknown[]): Promise<[number, number, number, number]> {
    const args = [String(this.options.memorySeconds), String(this.options.ttlSeconds), JSON.stringify(items)];
    try {
      return (await this.redis.evalsha(LABEL_SHA, 1, base, ...args)) as [number, number, number, number];
    } catch (err) {
      // An empty script cache (restart, failover, new node): EVAL runs it and caches it.
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      return (await this.redis.eval(LABEL_SCRIPT, 1, base, ...args)) as [number, number, number, number];
    }
  }
}

/**
 * Lifetimes from config: a prediction and a document's applied label are kept for the label grace
 * period (at least the window store's retention), so the grace period is bounded by the prediction
 * index's lifetime by construction.
 */
export function labelLifetimes(
  cfg: FinsentryConfig,
  windowTtlSeconds: number,
): { predictionSeconds: number; memorySeconds: number } {
  const graceSeconds = Math.ceil(cfg.stats.labelGracePeriod / 1000);
  return {
    predictionSeconds: Math.max(windowTtlSeconds, graceSeconds + 3600),
    memorySeconds: graceSeconds + 3600,
  };
}
