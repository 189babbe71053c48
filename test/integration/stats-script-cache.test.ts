import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisWindowStore } from '../../src/io/redis/window-store.js';
import { syntheticObservations } from '../../src/tools/bench/stats-store.js';
import { waitFor } from '../helpers/stack.js';

/**
 * The EVALSHA → EVAL fallback when Redis has lost its script cache (restart, failover). It needs a
 * SCRIPT FLUSH, which must not hit the Redis other tests share, so this file runs its own throwaway
 * redis-server (the binary the stack script installs) on a free port.
 */

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('window store script cache', () => {
  let server: ChildProcess;
  let redis: Redis;

  beforeAll(async () => {
    const port = await freePort();
    server = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    const accepts = () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      });
    await waitFor(accepts, 20_000, 100);
    redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 3 });
    expect(await redis.ping()).toBe('PONG');
  });

  afterAll(async () => {
    redis?.disconnect();
    server?.kill('SIGTERM');
  });

  it('re-sends exactly the calls that met NOSCRIPT with EVAL, and counts nothing twice', async () => {
    const store = new RedisWindowStore(redis, {
      keyPrefix: 'fs-cache',
      bucketMs: 60_000,
      allowedLatenessMs: 300_000,
      ttlSeconds: 3600,
      dimensions: ['kind'],
    });
    const obs = syntheticObservations(300, 0, { docsPerEventMinute: 100 });
    const batch = (from: number, to: number) => ({
      partitionKey: 'p:0',
      lastOffset: obs[to - 1]!.offset!,
      observations: obs.slice(from, to),
      labels: [],
    });

    const first = await store.apply([batch(0, 100)]); // empty cache: EVALSHA fails, EVAL runs
    expect(first[0]!.applied).toBe(true);
    const tripsAfterFirst = store.roundTrips;
    await store.apply([batch(100, 200)]); // cached now: one round trip
    expect(store.roundTrips - tripsAfterFirst).toBe(1);

    await redis.script('FLUSH'); // as after a restart or failover
    const before = store.roundTrips;
    const third = await store.apply([batch(200, 300), batch(150, 250)]);
    expect(store.roundTrips - before).toBe(2); // EVALSHA pipeline + one EVAL resend
    expect(third.map((r) => r.applied)).toEqual([true, false]); // the second is a replay by then

    const window = await store.readWindow({ dimension: '_all', windowMs: 3_600_000 });
    expect(window[0]!.count).toBe(300);
    const stats = await redis.info('commandstats');
    expect(stats).toMatch(/cmdstat_eval:calls=[1-9]/);
  });
});
