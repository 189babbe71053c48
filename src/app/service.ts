import { readFileSync } from 'node:fs';
import type { Kafka } from 'kafkajs';
import { resolveSecret } from '../config/load.js';
import type { FinsentryConfig, SecretRef } from '../config/schema.js';
import type { PseudonymKeys } from '../privacy/pseudonymise.js';
import type { Enricher } from '../domain/enrichment.js';
import type { OnnxEnricherOptions } from '../inference/enricher.js';
import { ensureTopics, missingTopics } from '../io/kafka/admin.js';
import { buildKafka } from '../io/kafka/client.js';
import { createRedisClient, type RedisClient } from '../io/redis/client.js';
import { RedisWindowStore } from '../io/redis/window-store.js';
import { storyExemplarsFromConfig } from '../io/redis/story-exemplars.js';
import { storyRegistryFromConfig } from '../io/redis/story-registry.js';
import { labelLifetimes, RedisLabelStore } from '../io/redis/label-store.js';
import { LabelJoinSink, RedisPredictionIndex } from '../pipeline/label-join.js';
import { withStoryExemplars } from '../stats/story-exemplars.js';
import { windowStoreOptions } from '../stats/windows/rules.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type PipelineMetrics } from '../telemetry/metrics.js';
import { Readiness, startOpsServer, type OpsServer } from '../telemetry/server.js';
import { startTracing, type TracingHandle } from '../telemetry/tracing.js';
import { liveObservationBuilder } from './observations.js';
import { PipelineService } from './pipeline.js';
import { withRegisteredOutputSchemas } from './schema-registry.js';
import { LagMonitor } from '../io/kafka/lag-monitor.js';
import { checkRedisDurability } from '../io/redis/durability.js';

/**
 * The composition root of the service (design §1, Layout): builds `finsentry run` from config — the
 * only place that picks the adapters (Kafka, Redis, ONNX Runtime, HTTP) and passes them to the
 * pipeline and the evaluator, which own the interfaces. The CLI (src/cli/commands/run.ts) parses
 * arguments and calls runService; the evaluator's wiring is ./evaluator.ts, the pipeline's ./pipeline.ts.
 *
 * Start-up order: config → author key → ops server (/healthz answers at once, /readyz only when
 * everything below is up) → models loaded and warmed → Redis window store → output topics → consumer
 * group. Then the alert evaluator when `evaluator.enabled` (leader-elected: running it in every
 * replica is safe).
 *
 * SIGTERM/SIGINT: stop fetching, finish and commit in-flight micro-batches, leave the group, close
 * the producer, the models and Redis; exit 0 within `shutdown.deadline`, else log and exit 1 (the
 * uncommitted records are simply read again by the next owner). A second signal exits 1 at once.
 */

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Resources opened so far, closed in reverse order on shutdown or start-up failure. */
class Closers {
  private readonly items: Array<{ name: string; close: () => Promise<unknown> }> = [];
  add(name: string, close: () => Promise<unknown>): void {
    this.items.push({ name, close });
  }
  async closeAll(logger: Logger): Promise<void> {
    for (const { name, close } of this.items.reverse()) {
      try {
        await close();
      } catch (err) {
        logger.warn({ err, component: name }, 'error while closing');
      }
    }
    this.items.length = 0;
  }
}

/** Runs the service until a signal or a fatal error; resolves the process exit code. */
export async function runService(loaded: FinsentryConfig, logger: Logger): Promise<number> {
  // Output subjects registered first: a refused schema fails the start before anything is written.
  const config = await withRegisteredOutputSchemas(loaded, logger);
  const authorKey = requireAuthorKey(config);
  // Reads the security master (stats.issuers.file): a bad file stops the start before anything else.
  const metrics = createMetrics({ stats: config.stats });
  const observations = liveObservationBuilder(config, metrics);
  const signal = listenForSignals();
  const closers = new Closers();
  const readiness = new Readiness();
  readiness.set('models', false);
  readiness.set('pipeline', false);
  // Per-partition progress (lag from the broker, stalls) for /healthz; set once the pipeline runs.
  const liveness: { monitor?: LagMonitor } = {};
  await startOps(config, metrics, readiness, closers, logger, liveness);

  let tracing: TracingHandle | undefined;
  let service: PipelineService | undefined;
  try {
    tracing = await startTracing(config.tracing);
    if (tracing) closers.add('tracing', () => tracing!.shutdown());

    const enricher = await loadEnricher(config, metrics, logger);
    closers.add('models', () => enricher.close());
    metrics.modelInfo(enricher.models, enricher.providers);
    readiness.set('models', true);
    logger.info({ models: enricher.models }, 'models loaded and warmed up');

    const redis: RedisClient = createRedisClient(config.redis);
    closers.add('redis', () => redis.quit());
    // Eviction would silently drop counters or a partition's applied offset (double counting).
    await checkRedisDurability(redis, { allowEvictingPolicy: config.redis.allowEvictingPolicy, logger });
    const store = new RedisWindowStore(redis, windowStoreOptions(config));
    const exemplars = storyExemplarsFromConfig(redis, config);
    const storyRegistry = storyRegistryFromConfig(redis, config);
    const counted = exemplars ? withStoryExemplars(store, exemplars) : store;
    readiness.set('redis', async () => redis.status === 'ready');

    const kafka = buildKafka(config.kafka, logger);
    const topics = config.kafka.topics;
    await checkTopics(kafka, topics, logger);
    const { labels, predictions } = await openLabelJoin(config, kafka, redis, store, metrics, logger);

    service = new PipelineService(config, {
      kafka,
      enricher,
      // The most negative stories per issuer beside the counts, for surge alerts (docs/alerting.md "Surge").
      stats: counted,
      buildObservation: observations,
      // One story id for a story's copies whichever replica reads them, on the enriched record and
      // in the windows alike (docs/alerting.md "Where the story index lives").
      stories: storyRegistry,
      labels,
      predictions,
      authorKey,
      pseudonymisePersons: config.privacy.pseudonymisePersons,
      logger,
      observer: metrics,
      pipelineVersion: packageVersion(),
    });
    readiness.set('pipeline', () => service!.ready);
    const fatal = new Promise<Error>((resolve) => {
      service!.onCrash((error, restart) => {
        if (!restart) resolve(error);
      });
    });
    await service.start();
    liveness.monitor = startLagMonitor(config, kafka, service, metrics, closers, logger);
    if (config.kafka.delivery === 'exactly-once')
      logger.info(
        { topics: [topics.enriched, topics.dlq] },
        'exactly-once delivery: outputs are transactional; their consumers must read with isolation.level=read_committed',
      );

    if (config.evaluator.enabled) {
      const { startEvaluatorService } = await import('./evaluator.js');
      const evaluator = await startEvaluatorService(config, { logger, metrics, redis, kafka });
      closers.add('evaluator', () => evaluator.stop());
    }

    return await stopOnSignal(config, service, await waitForSignalOrFatal(signal, fatal), {
      readiness,
      closers,
      logger,
    });
  } catch (err) {
    if (service) await service.abort().catch(() => {});
    await closers.closeAll(logger);
    throw err;
  }
}

/** After a signal: a graceful stop within the deadline; after a fatal consumer error: abort. */
async function stopOnSignal(
  config: FinsentryConfig,
  service: PipelineService,
  outcome: Outcome,
  { readiness, closers, logger }: { readiness: Readiness; closers: Closers; logger: Logger },
): Promise<number> {
  if (outcome.kind === 'fatal') {
    logger.fatal(
      { err: outcome.error },
      `kafka consumer stopped and will not restart: ${outcome.error.message}`,
    );
    await service.abort();
    await closers.closeAll(logger);
    return 1;
  }
  logger.info(
    { signal: outcome.signal, deadlineMs: config.shutdown.deadline },
    'shutting down: finishing in-flight batches',
  );
  readiness.set('pipeline', false);
  const clean = await service.stop(config.shutdown.deadline);
  if (!clean) {
    logger.error(
      { deadlineMs: config.shutdown.deadline },
      'shutdown deadline passed before in-flight batches finished; exiting with uncommitted work (it will be re-read)',
    );
    return 1;
  }
  await closers.closeAll(logger);
  logger.info({ counters: service.processor.counters }, 'finsentry stopped cleanly');
  return 0;
}

/** The key(s) of the author-id HMAC (docs/security.md); the service refuses to start without them. */
function requireAuthorKey(config: FinsentryConfig): PseudonymKeys {
  const { privacy } = config;
  const secret = (field: 'authorKey' | 'previousAuthorKey', ref: SecretRef): string => {
    const value = resolveSecret(ref);
    if (value) return value;
    const where = ref.env ? `environment variable ${ref.env}` : `file ${ref.file}`;
    throw new Error(
      `privacy.${field}: ${where} is not set or empty (chat author ids must be pseudonymised with a secret key)`,
    );
  };
  return {
    current: { id: privacy.authorKeyId ?? '', key: secret('authorKey', privacy.authorKey) },
    ...(privacy.previousAuthorKey
      ? {
          previous: {
            id: privacy.previousAuthorKeyId ?? '',
            key: secret('previousAuthorKey', privacy.previousAuthorKey),
          },
          rotateAtMs: Date.parse(privacy.rotateAt ?? ''),
        }
      : {}),
  };
}

/** The ops server (/metrics, /healthz, /readyz): first, so /healthz answers while models load. */
async function startOps(
  config: FinsentryConfig,
  metrics: PipelineMetrics,
  readiness: Readiness,
  closers: Closers,
  logger: Logger,
  liveness: { monitor?: LagMonitor },
): Promise<void> {
  let server: OpsServer;
  try {
    server = await startOpsServer({
      registry: metrics.registry,
      readiness,
      liveness: () => {
        const stalled = liveness.monitor?.stalled() ?? [];
        return stalled.length > 0 ? { stalledPartitions: stalled } : null;
      },
      port: config.metrics.port,
      host: config.metrics.host,
    });
  } catch (err) {
    throw new Error(
      `metrics server cannot listen on ${config.metrics.host}:${config.metrics.port}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  closers.add('ops server', () => server.close());
  logger.info({ port: server.port }, 'ops server listening (/metrics, /healthz, /readyz)');
}

/** Lag per assigned partition from the broker, a stall gauge each, and /healthz unhealthy on a stall (docs/guarantees.md). */
function startLagMonitor(
  config: FinsentryConfig,
  kafka: Kafka,
  service: PipelineService,
  metrics: PipelineMetrics,
  closers: Closers,
  logger: Logger,
): LagMonitor {
  const monitor = new LagMonitor(kafka, {
    groupId: config.kafka.groupId,
    assignment: () => service.assignment(),
    intervalMs: config.health.lagInterval,
    stallAfterMs: config.health.stallAfter,
    onSample: (progress) => {
      for (const p of progress) {
        metrics.consumerLag(p.topic, p.partition, p.lag);
        metrics.partitionStall(p.topic, p.partition, p.stalledSeconds);
      }
    },
    logger,
  });
  monitor.start();
  closers.add('lag monitor', () => monitor.stop());
  return monitor;
}

/** The product enricher, loaded and warmed; imported here so that commands that never infer do not load onnxruntime. */
async function loadEnricher(
  config: FinsentryConfig,
  metrics: PipelineMetrics,
  logger: Logger,
): Promise<Enricher & { providers: Record<string, string> }> {
  const { OnnxEnricher } = await import('../inference/enricher.js');
  const { loadRoutedEnricher } = await import('../inference/model-sets.js');
  const options: OnnxEnricherOptions = {
    logger,
    maxEntitiesPerDocument: config.limits.maxEntitiesPerDocument,
    onBatch: (task, stats) => {
      metrics.batch({ size: stats.size, paddedTokens: stats.paddedTokens, realTokens: stats.realTokens });
      metrics.inferenceLatency(task, stats.modelMs / 1000);
    },
  };
  const models = await OnnxEnricher.create(config.models, config.batching, options);
  // Each language to the model set that reads it, the others unscored (models.languages/sets, design §3).
  return loadRoutedEnricher(models, config.models, config.batching, {
    ...options,
    onUnscored: (language) => metrics.documentUnscored(language),
  });
}

/** Input topics must exist (a typo must not silently consume nothing); output topics are created. */
async function checkTopics(
  kafka: Kafka,
  topics: FinsentryConfig['kafka']['topics'],
  logger: Logger,
): Promise<void> {
  const missing = await missingTopics(kafka, [topics.news, topics.chat]);
  if (missing.length > 0)
    throw new Error(
      `input topic(s) ${missing.join(', ')} do not exist (kafka.topics); create them or fix the config`,
    );
  const created = await ensureTopics(kafka, [
    { topic: topics.enriched },
    { topic: topics.dlq },
    { topic: topics.late },
  ]);
  if (created.length > 0) logger.info({ topics: created }, 'created output topics');
}

/** Labels are optional: consumed (and joined to remembered predictions) only when the topic exists. */
async function openLabelJoin(
  config: FinsentryConfig,
  kafka: Kafka,
  redis: RedisClient,
  store: RedisWindowStore,
  metrics: PipelineMetrics,
  logger: Logger,
): Promise<{ labels: LabelJoinSink | null; predictions: RedisPredictionIndex | null }> {
  const topic = config.kafka.topics.labels;
  if (!topic) return { labels: null, predictions: null };
  if ((await missingTopics(kafka, [topic])).length > 0) {
    logger.warn(
      { topic },
      'labels topic does not exist; accuracy-based fairness metrics stay empty (create it and restart to enable)',
    );
    return { labels: null, predictions: null };
  }
  const lifetimes = labelLifetimes(config, store.options.ttlSeconds);
  const predictions = new RedisPredictionIndex(redis, config.redis.keyPrefix, lifetimes.predictionSeconds);
  const labelStore = new RedisLabelStore(redis, {
    keyPrefix: config.redis.keyPrefix,
    bucketMs: config.stats.bucket,
    ttlSeconds: store.options.ttlSeconds,
    memorySeconds: lifetimes.memorySeconds,
  });
  const labels = new LabelJoinSink(predictions, labelStore, logger, {
    graceMs: config.stats.labelGracePeriod,
    observer: metrics,
  });
  return { predictions, labels };
}

type Outcome = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'fatal'; error: Error };

/**
 * Signal listeners are installed before start-up, so a SIGTERM while models load or the group is
 * joined is not a hard kill: start-up completes, then the service stops gracefully at once.
 */
function listenForSignals(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) {
        process.stderr.write(`finsentry: second ${signal}, exiting without waiting\n`);
        process.exit(1);
      }
      received = true;
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

function waitForSignalOrFatal(signal: Promise<NodeJS.Signals>, fatal: Promise<Error>): Promise<Outcome> {
  return Promise.race([
    signal.then((s): Outcome => ({ kind: 'signal', signal: s })),
    fatal.then((error): Outcome => ({ kind: 'fatal', error })),
  ]);
}
