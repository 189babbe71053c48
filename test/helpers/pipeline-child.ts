// The pipeline (PipelineService, the product code) as a child process, for tests that crash it for
// real (SIGKILL leaves Kafka transactions open and connections dangling, which no in-process abort
// can imitate). Inference is the deterministic TestEnricher, so a run starts in about a second.
//
//   node --import tsx test/helpers/pipeline-child.ts CONFIG.json
//
// Environment:
//   FINSENTRY_AUTHOR_KEY                  author-id HMAC key (required, as for `finsentry run`)
//   FINSENTRY_TEST_ENRICH_DELAY_MS        TestEnricher delay per enrich call (default 0)
//   FINSENTRY_TEST_KILL_AT_COMMIT=N       SIGKILL itself right before its N-th commit, i.e. after the
//                                         outputs were sent and the Redis windows applied, before the
//                                         offsets (exactly-once: the transaction) are committed
// stdout: one JSON line per event: {"event":"started"}, {"event":"commit","n":…,"topic":…,"partition":…,
// "lastOffset":…}, {"event":"stopped","counters":{…}}. Logs (pino JSON) go to stderr.
// SIGTERM stops gracefully (in-flight batches finish and commit) and exits 0.
import { loadConfig, resolveSecret } from '../../src/config/load.js';
import { buildKafka } from '../../src/io/kafka/client.js';
import { createRedisClient } from '../../src/io/redis/client.js';
import { RedisWindowStore, windowStoreOptions } from '../../src/io/redis/window-store.js';
import { PipelineService } from '../../src/app/pipeline.js';
import { buildObservation } from '../../src/stats/grouping.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { TestEnricher } from './test-enricher.js';

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

async function main(): Promise<number> {
  const configFile = process.argv[2];
  if (!configFile) throw new Error('usage: pipeline-child.ts CONFIG.json');
  const config = loadConfig(configFile);
  const logger = createLogger(config.log.level, 'finsentry-child');
  const authorKey = resolveSecret(config.privacy.authorKey);
  if (!authorKey) throw new Error('privacy.authorKey is not set');
  const killAt = Number(process.env.FINSENTRY_TEST_KILL_AT_COMMIT ?? '0');
  const redis = createRedisClient(config.redis);
  const store = new RedisWindowStore(redis, windowStoreOptions(config));
  let commits = 0;
  const service = new PipelineService(config, {
    kafka: buildKafka(config.kafka, logger),
    enricher: new TestEnricher(Number(process.env.FINSENTRY_TEST_ENRICH_DELAY_MS ?? '0')),
    stats: store,
    buildObservation: (doc, enrichment) => buildObservation(doc, enrichment, config.stats.dimensions),
    authorKey,
    logger,
    pipelineVersion: 'test-child',
    backoff: { initialMs: 100, maxMs: 1_000 },
    hooks: {
      beforeCommit: (point) => {
        commits++;
        if (commits === killAt) {
          emit({ event: 'killing', n: commits, ...point });
          process.kill(process.pid, 'SIGKILL');
        }
        emit({ event: 'commit', n: commits, ...point });
      },
    },
  });
  const stop = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const fatal = new Promise<Error>((resolve) =>
    service.onCrash((error, restart) => {
      if (!restart) resolve(error);
    }),
  );
  await service.start();
  emit({ event: 'started' });
  const outcome = await Promise.race([stop, fatal]);
  if (outcome instanceof Error) {
    logger.fatal({ err: outcome }, 'consumer crashed');
    await service.abort();
    redis.disconnect();
    return 1;
  }
  const clean = await service.stop(20_000);
  emit({ event: 'stopped', clean, counters: service.processor.counters });
  await redis.quit();
  return clean ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `pipeline-child: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
