import type { Logger } from '../../telemetry/logger.js';
import type { RedisClient } from './client.js';

/**
 * What the window store's guarantees need from Redis (docs/guarantees.md "Redis durability"): keys
 * that are never evicted — a partition's state hash evicted under memory pressure makes a replay count
 * twice, and an evicted counter silently loses counts — and, to survive a Redis restart, persistence
 * (AOF). An evicting `maxmemory-policy` (allkeys-*, volatile-*) is refused at start unless
 * `redis.allowEvictingPolicy` says the operator accepts it; the AOF status is logged.
 */
export interface RedisDurability {
  /** null when Redis did not say (INFO refused by an ACL, a proxy). */
  maxmemoryPolicy: string | null;
  aofEnabled: boolean | null;
}

export class EvictingPolicyError extends Error {
  constructor(policy: string) {
    super(
      `Redis maxmemory-policy is ${policy}: Redis may evict the window store's keys (a partition's state hash evicted makes replays count twice, an evicted counter loses counts). ` +
        'Set maxmemory-policy noeviction, or redis.allowEvictingPolicy: true to accept it',
    );
    this.name = 'EvictingPolicyError';
  }
}

/** `field:value` of an INFO section. */
function infoField(info: string, field: string): string | null {
  const match = new RegExp(`^${field}:(.*)$`, 'm').exec(info);
  return match ? match[1]!.trim() : null;
}

export async function readRedisDurability(redis: RedisClient): Promise<RedisDurability> {
  const memory = await redis.info('memory');
  const persistence = await redis.info('persistence');
  const aof = infoField(persistence, 'aof_enabled');
  return {
    maxmemoryPolicy: infoField(memory, 'maxmemory_policy'),
    aofEnabled: aof === null ? null : aof === '1',
  };
}

/** Reads and judges the durability settings; throws EvictingPolicyError for an evicting policy unless allowed. */
export async function checkRedisDurability(
  redis: RedisClient,
  options: { allowEvictingPolicy: boolean; logger: Logger },
): Promise<RedisDurability | null> {
  let durability: RedisDurability;
  try {
    durability = await readRedisDurability(redis);
  } catch (err) {
    options.logger.warn(
      { err: (err as Error).message },
      'cannot read Redis INFO: maxmemory-policy and persistence not checked',
    );
    return null;
  }
  const { maxmemoryPolicy: policy, aofEnabled } = durability;
  const evicting = policy !== null && policy !== 'noeviction';
  if (evicting && !options.allowEvictingPolicy) throw new EvictingPolicyError(policy);
  options.logger[evicting || aofEnabled === false ? 'warn' : 'info'](
    { maxmemoryPolicy: policy, aofEnabled },
    aofEnabled === false
      ? 'Redis persistence: AOF off — a Redis restart loses the windows and the applied offsets (replays are then counted again)'
      : 'Redis durability checked',
  );
  return durability;
}
