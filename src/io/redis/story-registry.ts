import { createHash } from 'node:crypto';
import type { FinsentryConfig } from '../../config/schema.js';
import type { StoryRegistry, StoryRegistryOptions, StoryRequest } from '../../stats/shared-stories.js';
import { bandValues, DEFAULT_STORY_OPTIONS } from '../../stats/story.js';
import { windowStoreOptions } from '../../stats/windows/rules.js';
import type { RedisClient } from './client.js';

// The shared story index (src/stats/shared-stories.ts, the same rules as MemoryStoryRegistry).
// KEYS[1] = "<prefix>:{stories}"; every key below it shares that hash tag (one slot: Redis Cluster
// safe, one atomic call for all replicas):
//   <base>:d:<digest>         "<first event ms> <story id>", PX ttl: exact copies
//   <base>:b:<band>:<value>   hash story id → "<hi> <lo> <first event ms> <expires at, store ms>":
//                             the 8 SimHash bands; entries past their expiry are dropped when read.
// ARGV: window ms, max Hamming distance, ttl ms, the caller's clock (ms; not Redis TIME, which an ACL
// user limited to @read/@write/@scripting may not call), JSON [[id, digest, eventMs, hi, lo, b0..b7] |
// [id, digest, eventMs]]. Returns the story id of each request, in order.
const RESOLVE_SCRIPT = `
local base = KEYS[1]
local window, maxd, ttl, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local function popcount(x)
  local n = 0
  while x ~= 0 do x = bit.band(x, x - 1); n = n + 1 end
  return n
end
local function nearest(r, et)
  local best, bestd, bestfirst = nil, maxd + 1, 0
  for b = 0, 7 do
    local bkey = base .. ':b:' .. b .. ':' .. string.format('%d', r[6 + b])
    local flat = redis.call('HGETALL', bkey)
    for j = 1, #flat, 2 do
      local sid = flat[j]
      local eh, el, ef, ex = string.match(flat[j + 1], '^(%S+) (%S+) (%S+) (%S+)$')
      if tonumber(ex) <= now then
        redis.call('HDEL', bkey, sid)
      else
        ef = tonumber(ef)
        if math.abs(et - ef) < window then
          local d = popcount(bit.bxor(r[4], tonumber(eh))) + popcount(bit.bxor(r[5], tonumber(el)))
          if d <= maxd and (d < bestd or (d == bestd and (ef < bestfirst or (ef == bestfirst and sid < best)))) then
            best, bestd, bestfirst = sid, d, ef
          end
        end
      end
    end
  end
  return best
end
local out = {}
for i, r in ipairs(cjson.decode(ARGV[5])) do
  local id, et = r[1], r[3]
  local dkey = base .. ':d:' .. r[2]
  local story = nil
  local cur = redis.call('GET', dkey)
  if cur then
    local sep = string.find(cur, ' ', 1, true)
    if math.abs(et - tonumber(string.sub(cur, 1, sep - 1))) < window then story = string.sub(cur, sep + 1) end
  end
  if not story and #r > 3 then story = nearest(r, et) end
  if not story then
    story = id
    local first = string.format('%.0f', et)
    redis.call('SET', dkey, first .. ' ' .. id, 'PX', ttl)
    if #r > 3 then
      local v = string.format('%.0f %.0f ', r[4], r[5]) .. first .. ' ' .. string.format('%.0f', now + ttl)
      for b = 0, 7 do
        local bkey = base .. ':b:' .. b .. ':' .. string.format('%d', r[6 + b])
        redis.call('HSET', bkey, id, v)
        redis.call('PEXPIRE', bkey, ttl)
      end
    end
  end
  out[i] = story
end
return out
`;
const RESOLVE_SHA = createHash('sha1').update(RESOLVE_SCRIPT).digest('hex');

/** Requests per script call: bounds how long one call holds Redis (docs/alerting.md "Surge"). */
const REQUESTS_PER_CALL = 200;

/**
 * The story registry in Redis (src/stats/shared-stories.ts): one story index for every replica. A
 * call reads the 8 band hashes of each request, whose size is the number of live stories / 256.
 */
export class RedisStoryRegistry implements StoryRegistry {
  private readonly base: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly o: StoryRegistryOptions & { keyPrefix: string },
    /** Store clock for entry expiry (replicas' clocks agree to NTP precision, far below the TTL). */
    private readonly nowMs: () => number = Date.now,
  ) {
    this.base = `${o.keyPrefix}:{stories}`;
  }

  async resolve(requests: readonly StoryRequest[]): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < requests.length; i += REQUESTS_PER_CALL)
      out.push(...(await this.run(requests.slice(i, i + REQUESTS_PER_CALL))));
    return out;
  }

  private async run(requests: readonly StoryRequest[]): Promise<string[]> {
    const items = requests.map(({ documentId, fingerprint: f, eventTimeMs }) => {
      const head = [documentId, f.digest, Math.floor(eventTimeMs)];
      return f.simHash ? [...head, f.simHash[0], f.simHash[1], ...bandValues(f.simHash)] : head;
    });
    const o = this.o;
    const args = [o.windowMs, o.maxHammingDistance, o.ttlMs, Math.floor(this.nowMs())].map(String);
    args.push(JSON.stringify(items));
    try {
      return (await this.redis.evalsha(RESOLVE_SHA, 1, this.base, ...args)) as string[];
    } catch (err) {
      // An empty script cache (restart, failover, new node): EVAL runs it and caches it.
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      return (await this.redis.eval(RESOLVE_SCRIPT, 1, this.base, ...args)) as string[];
    }
  }

  /** Deletes the registry's keys (tests). */
  async clear(): Promise<void> {
    const keys = await this.keysOf(`${this.base}:*`);
    for (let i = 0; i < keys.length; i += 500) await this.redis.del(...keys.slice(i, i + 500));
  }

  private async keysOf(pattern: string): Promise<string[]> {
    const nodes = 'nodes' in this.redis ? this.redis.nodes('master') : [this.redis];
    const found = await Promise.all(nodes.map((n) => n.keys(pattern)));
    return found.flat();
  }
}

/**
 * The registry of config (stats.stories.shared): keys under the window store's prefix, entries kept
 * for the story window plus the allowed lateness, as the story claims are; null when turned off.
 */
export function storyRegistryFromConfig(redis: RedisClient, cfg: FinsentryConfig): RedisStoryRegistry | null {
  if (!cfg.stats.stories.shared) return null;
  const { keyPrefix } = windowStoreOptions(cfg);
  return new RedisStoryRegistry(redis, {
    keyPrefix,
    windowMs: cfg.stats.stories.window,
    maxHammingDistance: DEFAULT_STORY_OPTIONS.maxHammingDistance,
    ttlMs: cfg.stats.stories.window + cfg.stats.allowedLateness,
  });
}
