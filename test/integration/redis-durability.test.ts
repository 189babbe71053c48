// Redis durability checked at start (src/io/redis/durability.ts) against a real, private Redis (the
// test changes its maxmemory-policy, which must not touch the shared one): noeviction with AOF passes;
// allkeys-lru and volatile-lru are refused (issue 14: with allkeys-lru at its memory limit Redis
// evicted 574 keys, a partition's state hash among them, and replays were counted twice) unless
// redis.allowEvictingPolicy is set.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRedisDurability, EvictingPolicyError } from '../../src/io/redis/durability.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { PrivateStack } from '../helpers/private-stack.js';

let stack: PrivateStack;
let redis: Redis;
const logger = createLogger('silent');

beforeAll(async () => {
  stack = await PrivateStack.start(['redis']);
  redis = new Redis(stack.redisUrl);
}, 120_000);
afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('Redis durability at start', () => {
  it('accepts noeviction with AOF, refuses evicting policies unless allowed', async () => {
    const ok = await checkRedisDurability(redis, { allowEvictingPolicy: false, logger });
    const refused: Record<string, string> = {};
    for (const policy of ['allkeys-lru', 'volatile-lru']) {
      await redis.config('SET', 'maxmemory-policy', policy);
      const err = await checkRedisDurability(redis, { allowEvictingPolicy: false, logger }).catch(
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(EvictingPolicyError);
      refused[policy] = (err as Error).message.slice(0, 60);
    }
    const forced = await checkRedisDurability(redis, { allowEvictingPolicy: true, logger });
    console.log(
      `redis durability: default ${JSON.stringify(ok)}; refused ${JSON.stringify(refused)}; forced ${JSON.stringify(forced)}`,
    );
    expect(ok).toEqual({ maxmemoryPolicy: 'noeviction', aofEnabled: true });
    expect(forced).toEqual({ maxmemoryPolicy: 'volatile-lru', aofEnabled: true });
  });
});
