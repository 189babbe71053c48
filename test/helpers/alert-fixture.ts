// What the evaluator integration tests (alerts-evaluator, alerts-e2e) set up the same way on the
// shared stack: a Redis window store under a unique prefix over the issuer and region dimensions, the
// metrics, an alerts topic read back into `received`, the evaluator with the shipped gauge settings
// and the Kafka publisher, and the clean-up of keys, clients and topic at the end.
import { Redis } from 'ioredis';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import type { AlertPublisher } from '../../src/alerts/ports.js';
import { decodeAlertEvent, type AlertEvent } from '../../src/alerts/events.js';
import { Evaluator, trailingReference, type EvaluatorOptions } from '../../src/alerts/evaluator.js';
import { kafkaAlertPublisher } from '../../src/io/kafka/alert-publisher.js';
import { redisAlertPorts } from '../../src/io/redis/alert-ports.js';
import { AlertStore } from '../../src/io/redis/alert-store.js';
import { RedisWindowStore } from '../../src/io/redis/window-store.js';
import { createMetrics, type PipelineMetrics } from '../../src/telemetry/metrics.js';
import { createTopic, deleteTopics, kafkaBrokers, redisUrl, uniqueName } from './stack.js';

const MINUTE = 60_000;
const GAUGE_DIMENSIONS = [
  { name: 'issuer', bounded: false },
  { name: 'region', bounded: true },
];

export class AlertFixture {
  readonly prefix: string;
  readonly alertsTopic: string;
  readonly kafka: Kafka;
  readonly redis = new Redis(redisUrl());
  readonly store: RedisWindowStore;
  readonly metrics: PipelineMetrics;
  /** Every alert event read back from the alerts topic. */
  readonly received: AlertEvent[] = [];
  producer: Producer | undefined;
  private consumer: Consumer | undefined;
  evaluator: Evaluator | undefined;

  /** `name` names the key prefix, the alerts topic, the Kafka client and the reader group. */
  constructor(
    private readonly name: string,
    options: { processMetrics?: boolean } = {},
  ) {
    this.prefix = uniqueName(`fs-${name}`).replace(/[^A-Za-z0-9:_-]/g, '');
    this.alertsTopic = uniqueName(`${name}-alerts`);
    this.kafka = new Kafka({ clientId: `${name}-test`, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    this.store = new RedisWindowStore(this.redis, {
      keyPrefix: this.prefix,
      bucketMs: MINUTE,
      allowedLatenessMs: 3 * 3_600_000,
      ttlSeconds: 4 * 3600,
      dimensions: ['issuer', 'region'],
    });
    this.metrics = createMetrics({
      stats: { dimensions: GAUGE_DIMENSIONS, topK: 10 },
      ...(options.processMetrics === false ? { processMetrics: false } : {}),
    });
  }

  /** Creates the alerts topic, connects the producer and starts reading the topic into `received`. */
  async connect(): Promise<void> {
    await createTopic(this.alertsTopic, 1);
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    this.consumer = this.kafka.consumer({ groupId: uniqueName(`${this.name}-reader`) });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.alertsTopic, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => void this.received.push(decodeAlertEvent(message.value!)),
    });
  }

  /**
   * The evaluator on the fixture's windows (trailing hour reference, 5 m and 1 h gauges), publishing
   * to the alerts topic and to `publishers`, with a 10 s lease. Call after connect().
   */
  createEvaluator(
    options: Pick<EvaluatorOptions, 'rules' | 'intervalMs'> & { publishers?: AlertPublisher[] },
  ): Evaluator {
    this.evaluator = new Evaluator({
      ...redisAlertPorts({ redis: this.redis, keyPrefix: this.prefix, leaseMs: 10_000 }),
      windows: this.store,
      reference: trailingReference(this.store, 3_600_000),
      rules: options.rules,
      publishers: [kafkaAlertPublisher(this.producer!, this.alertsTopic), ...(options.publishers ?? [])],
      metrics: this.metrics,
      intervalMs: options.intervalMs,
      minSamples: 30,
      bucketMs: MINUTE,
      gaugeDimensions: GAUGE_DIMENSIONS,
      gaugeWindows: [5 * MINUTE, 3_600_000],
    });
    return this.evaluator;
  }

  /** Stops the evaluator, clears alert and window keys, disconnects, deletes the topic (afterAll). */
  async close(beforeCleanup?: () => Promise<void>): Promise<void> {
    await this.evaluator?.stop(true);
    await beforeCleanup?.();
    await new AlertStore(this.redis, this.prefix).clear();
    await this.store.deleteAll();
    this.redis.disconnect();
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
    await deleteTopics([this.alertsTopic]);
  }
}
