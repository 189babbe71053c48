import type { Admin, Kafka } from 'kafkajs';
import type { FinsentryConfig } from '../config/schema.js';
import { effectiveAlertRules } from '../alerts/default-rules.js';
import { evaluatorSettings, referenceFromConfig } from '../alerts/evaluator-config.js';
import { Evaluator, type AlertPublisher } from '../alerts/evaluator.js';
import { PipelineSignalTracker, readOffsetSnapshot } from '../alerts/pipeline-signals.js';
import { alertmanagerWebhook } from '../io/http/alertmanager.js';
import { ensureTopics } from '../io/kafka/admin.js';
import { FencedAlertPublisher } from '../io/kafka/alert-publisher.js';
import { buildKafka } from '../io/kafka/client.js';
import { redisAlertPorts } from '../io/redis/alert-ports.js';
import { createRedisClient, type RedisClient } from '../io/redis/client.js';
import { RedisWindowStore } from '../io/redis/window-store.js';
import { storyExemplarsFromConfig } from '../io/redis/story-exemplars.js';
import { windowStoreOptions } from '../stats/windows/rules.js';
import type { Logger } from '../telemetry/logger.js';
import type { PipelineMetrics } from '../telemetry/metrics.js';
import { cachedBaseline } from '../alerts/baseline.js';

/**
 * Wires the evaluator from config (part of the composition root): Redis (window store + lease + alert state), Kafka (alert
 * producer, admin for pipeline signals), reference source, publishers. Used by `finsentry evaluate`
 * and by `finsentry run`, which starts it next to the pipeline when `evaluator.enabled`.
 */

export interface EvaluatorService {
  readonly evaluator: Evaluator;
  /** Stops evaluating, hands the lease back, disconnects what it opened. */
  stop(): Promise<void>;
}

export interface EvaluatorServiceDeps {
  logger: Logger;
  metrics?: PipelineMetrics;
  /** Reuse existing clients (the pipeline's); otherwise they are created from config and closed on stop. */
  redis?: RedisClient;
  kafka?: Kafka;
  env?: NodeJS.ProcessEnv;
}

export async function startEvaluatorService(
  config: FinsentryConfig,
  deps: EvaluatorServiceDeps,
): Promise<EvaluatorService> {
  const env = deps.env ?? process.env;
  const log = deps.logger.child({ component: 'evaluator' });
  const ownRedis = !deps.redis;
  const redis = deps.redis ?? createRedisClient(config.redis, env);
  const kafka = deps.kafka ?? buildKafka(config.kafka, log, env);
  const store = new RedisWindowStore(redis, windowStoreOptions(config));
  // The stories a surge alert names (docs/alerting.md "Surge"), recorded by the pipeline.
  const stories = storyExemplarsFromConfig(redis, config);
  const topics = config.kafka.topics;

  let admin: Admin | undefined;
  try {
    await ensureTopics(kafka, [{ topic: topics.alerts }]);
    admin = kafka.admin();
    await admin.connect();
  } catch (err) {
    if (ownRedis) redis.disconnect();
    throw err;
  }

  // One transactional id for every replica of the deployment: a new leader's first publish fences
  // the old one's producer (docs/guarantees.md "One evaluator publishes").
  const kafkaPublisher = new FencedAlertPublisher(
    kafka,
    `${config.kafka.transactionalIdPrefix ?? config.kafka.groupId}.evaluator`,
    {
      topic: topics.alerts,
      maxBatchBytes: config.limits.maxOutputBatchBytes,
      ...(config.codec.alertsSchemaId === undefined ? {} : { schemaId: config.codec.alertsSchemaId }),
    },
  );
  const publishers: AlertPublisher[] = [kafkaPublisher];
  if (config.evaluator.webhookUrl) publishers.push(alertmanagerWebhook(config.evaluator.webhookUrl));

  const tracker = new PipelineSignalTracker();
  const inputTopics = [topics.news, topics.chat];
  const signalAdmin = admin;
  const evaluator = new Evaluator({
    ...redisAlertPorts({ redis, keyPrefix: config.redis.keyPrefix, leaseMs: config.evaluator.leaderLease }),
    ...evaluatorSettings(config),
    windows: store,
    ...(stories ? { stories } : {}),
    reference: referenceFromConfig(config, store),
    baseline: cachedBaseline(() => store.readBaseline(config.evaluator.reference.name), {
      onChange: (b) => {
        deps.metrics?.driftBaseline(config.evaluator.reference.name, b !== null);
        if (b) log.info({ baseline: b.name }, 'evaluator: drift rules compare with the pinned baseline');
        else
          log.warn(
            { baseline: config.evaluator.reference.name },
            'evaluator: no baseline captured — drift rules on the baseline are not judged until `finsentry baseline capture` runs',
          );
      },
    }),
    publishers,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    logger: log,
    pipelineSignals: async () => {
      const snapshot = await readOffsetSnapshot({
        admin: signalAdmin,
        groupId: config.kafka.groupId,
        inputTopics,
        dlqTopic: topics.dlq,
        lateTopic: topics.late,
      });
      for (const p of snapshot.partitions) deps.metrics?.consumerLag(p.topic, p.partition, p.lag);
      return tracker.push(snapshot);
    },
  });
  evaluator.start();
  log.info(
    { replica: evaluator.replicaId, rules: effectiveAlertRules(config).map((r) => r.name) },
    'evaluator started',
  );

  return {
    evaluator,
    async stop() {
      await evaluator.stop(true);
      await kafkaPublisher.close();
      await admin?.disconnect().catch(() => undefined);
      if (ownRedis) await redis.quit().catch(() => redis.disconnect());
    },
  };
}
