import { randomBytes } from 'node:crypto';
import { createRedisClient } from '../../io/redis/client.js';
import { runStatsBench } from './stats-store.js';
import { row, type BenchContext, type BenchRow } from './types.js';

/**
 * Row 6, the statistics stage alone: the stats runner of src/tools/bench/stats-store.ts (synthetic observations
 * with the product's group fan-out applied to Redis through RedisWindowStore, one sequential stream
 * of batches per partition) on the configured Redis, under a unique key prefix deleted afterwards.
 */
export async function statsRow(ctx: BenchContext): Promise<BenchRow> {
  const redis = createRedisClient(ctx.config.redis);
  try {
    const warmupPrefix = `finsentry_bench_${randomBytes(4).toString('hex')}`;
    await runStatsBench({
      redis,
      keyPrefix: warmupPrefix,
      documents: Math.min(2000, ctx.statsDocuments),
      batchSize: ctx.batching.maxBatchSize,
      partitions: 6,
      seed: 7,
    });
    const runs: number[] = [];
    let last: Awaited<ReturnType<typeof runStatsBench>> | undefined;
    for (let i = 0; i < ctx.reps; i++) {
      last = await runStatsBench({
        redis,
        keyPrefix: `finsentry_bench_${randomBytes(4).toString('hex')}`,
        documents: ctx.statsDocuments,
        batchSize: ctx.batching.maxBatchSize,
        partitions: 6,
        seed: 1 + i,
      });
      runs.push(last.seconds);
    }
    const result = last!;
    const seconds = [...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
    return row(
      'stats',
      'stats stage alone: documents into Redis',
      result.documents,
      runs,
      seconds,
      null,
      null,
      `batches of ${ctx.batching.maxBatchSize}, 6 partitions concurrently, ${result.target} Redis`,
      {
        groupsPerDocument: Number(result.groupsPerDocument.toFixed(2)),
        roundTripsPerBatch: Number(result.roundTripsPerApply.toFixed(3)),
        // From INFO commandstats: counts every client's commands on a shared Redis, so only indicative.
        serverCommandsPerBatch:
          result.serverCommandsPerApply === null ? null : Number(result.serverCommandsPerApply.toFixed(3)),
        batches: result.batches,
      },
    );
  } finally {
    await redis.quit().catch(() => undefined);
  }
}
