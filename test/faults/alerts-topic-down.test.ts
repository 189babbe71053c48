// Fault: the alerts topic unavailable (issue 14: every evaluation round aborted at the outbox flush — no
// state updates, no Alertmanager webhook, no gauges — and the outbox was one unchunked send). The
// evaluator runs in-process on the real Redis window store and alert store and a real Kafka producer
// configured as the service's (allowAutoTopicCreation: false); the alerts topic is deleted mid-run.
// While it is gone, rounds go on: the alert state steps, gauges update, the webhook (a local HTTP
// receiver standing for Alertmanager) gets the events; the outbox holds them. When the topic is back,
// the next round drains the outbox onto it, in order, exactly the events committed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAlertRules } from '../../src/alerts/default-rules.js';
import { decodeAlertEvent, type AlertEvent } from '../../src/alerts/events.js';
import { Evaluator, trailingReference } from '../../src/alerts/evaluator.js';
import { alertmanagerWebhook } from '../../src/io/http/alertmanager.js';
import { kafkaAlertPublisher } from '../../src/io/kafka/alert-publisher.js';
import { redisAlertPorts } from '../../src/io/redis/alert-ports.js';
import { AlertStore } from '../../src/io/redis/alert-store.js';
import { RedisWindowStore } from '../../src/io/redis/window-store.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { observation, traffic } from '../helpers/alert-traffic.js';
import { readAll } from '../helpers/avro-producer.js';
import { createTopic, deleteTopics, kafkaBrokers, redisUrl, uniqueName, waitFor } from '../helpers/stack.js';

const MINUTE = 60_000;
const RUN = uniqueName('atd').replace(/-/g, '');
const ISSUERS = Array.from({ length: 12 }, (_, i) => `iss${i}${RUN}`);

describe('fault: alerts topic unavailable', () => {
  const prefix = uniqueName('fs-atd').replace(/[^A-Za-z0-9:_-]/g, '');
  const alertsTopic = uniqueName('fs-atd-alerts');
  const kafka = new Kafka({ clientId: 'atd-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  const redis = new Redis(redisUrl());
  const store = new RedisWindowStore(redis, {
    keyPrefix: prefix,
    bucketMs: MINUTE,
    allowedLatenessMs: 3 * 3_600_000,
    ttlSeconds: 4 * 3600,
    dimensions: ['issuer'],
  });
  const metrics = createMetrics({
    stats: { dimensions: [{ name: 'issuer', bounded: false }], topK: 10 },
    processMetrics: false,
  });
  /** Groups of the alerts the webhook received. */
  const webhook: string[] = [];
  let server: Server;
  let producer: Producer;
  let evaluator: Evaluator;
  const rules = defaultAlertRules()
    .filter((r) => r.name === 'NegativeSentimentSurge')
    .map((r) => ({ ...r, for: 0 }));
  const T = Math.floor(Date.now() / MINUTE) * MINUTE;
  let offset = 0;

  /** One applied batch: a reference hour for every issuer, then `surging` issuers at 80% negative. */
  async function applyTraffic(surging: readonly string[], endMs: number): Promise<void> {
    const batch = [
      ...ISSUERS.flatMap((issuer) => traffic(issuer, endMs - 65 * MINUTE, endMs - 5 * MINUTE, 300, 1)),
      ...ISSUERS.flatMap((issuer) =>
        traffic(issuer, endMs - 4 * MINUTE, endMs, 60, surging.includes(issuer) ? 8 : 1),
      ),
      observation(ISSUERS[0]!, 'emea', endMs + 1_000, false),
    ].sort((a, b) => a.eventTimeMs - b.eventTimeMs);
    const observations = batch.map((o) => ({ ...o, offset: String(offset++) }));
    await store.apply([
      { partitionKey: `${prefix}-p0`, lastOffset: String(offset - 1), observations, labels: [] },
    ]);
  }

  async function gauge(name: string): Promise<string[]> {
    return (await metrics.registry.metrics()).split('\n').filter((l) => l.startsWith(name));
  }

  beforeAll(async () => {
    await createTopic(alertsTopic, 1);
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        for (const a of JSON.parse(body) as Array<{ labels: Record<string, string> }>)
          webhook.push(a.labels.group ?? '');
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    // As the service's producer: never creates a topic by producing to it (src/io/kafka/producer.ts).
    producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: { retries: 2, initialRetryTime: 200 },
    });
    await producer.connect();
    evaluator = new Evaluator({
      ...redisAlertPorts({ redis, keyPrefix: prefix, leaseMs: 60_000 }),
      windows: store,
      reference: trailingReference(store, 3_600_000),
      rules,
      publishers: [
        kafkaAlertPublisher(producer, alertsTopic),
        alertmanagerWebhook(`http://127.0.0.1:${port}/api/v2/alerts`),
      ],
      metrics,
      intervalMs: 60_000, // rounds are driven by the test
      minSamples: 30,
      bucketMs: MINUTE,
      gaugeDimensions: [{ name: 'issuer', bounded: false }],
      gaugeWindows: [5 * MINUTE],
    });
    await evaluator.lease.tick();
    expect(evaluator.lease.isLeader()).toBe(true);
  });

  afterAll(async () => {
    await evaluator?.stop(true);
    await new AlertStore(redis, prefix).clear();
    await store.deleteAll();
    redis.disconnect();
    await producer?.disconnect();
    server?.close();
    await deleteTopics([alertsTopic]);
  });

  it('keeps evaluating while the topic is gone and drains the outbox when it is back', async () => {
    await applyTraffic([ISSUERS[0]!], T);
    const before = await evaluator.evaluateOnce();
    expect(before.outcome).toBe('ok');
    expect(before.published).toBe(1);

    await deleteTopics([alertsTopic]);
    await waitFor(async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        return !(await admin.listTopics()).includes(alertsTopic);
      } finally {
        await admin.disconnect();
      }
    }, 60_000);
    // Two other issuers (of 12: the surge test estimates its dispersion from the round) surge 70 minutes later (a fresh reference hour): their alerts must be committed, gauged and sent to the
    // webhook while Kafka refuses them.
    const downAt = Date.now();
    await applyTraffic(ISSUERS.slice(1, 3), T + 70 * MINUTE);
    const down = await evaluator.evaluateOnce();
    const downSeconds = (Date.now() - downAt) / 1000;
    const pendingDown = await gauge('finsentry_alert_outbox_events');
    const failures = await gauge('finsentry_alert_publish_failures_total');
    const outboxEvents: AlertEvent[] = (await new AlertStore(redis, prefix).outbox()).map((e) => e.event);
    const outboxDown = outboxEvents.length;
    const negativeShare = (await gauge('finsentry_group_negative_share{')).filter((l) =>
      l.includes(ISSUERS[2]!),
    );
    const webhookDown = new Set(webhook);

    await createTopic(alertsTopic, 1);
    const backAt = Date.now();
    const after = await waitFor(
      async () => {
        const r = await evaluator.evaluateOnce();
        return (await new AlertStore(redis, prefix).outbox()).length === 0 ? r : null;
      },
      60_000,
      500,
    );
    const drainSeconds = (Date.now() - backAt) / 1000;
    const onTopic = (await readAll(kafka, alertsTopic)).map((r) => decodeAlertEvent(r.message.value!));
    const key = (e: AlertEvent) => `${e.fingerprint}/${e.state}`;

    console.log(
      `FAULT alerts topic deleted: round while down ${down.outcome} in ${downSeconds.toFixed(1)}s, ` +
        `transitions ${down.transitions.length}, published ${down.published}, outbox ${outboxDown}, ` +
        `${pendingDown.join(' ')}, ${failures.join(' ')}, webhook groups ${webhookDown.size}, ` +
        `gauge ${negativeShare.join(' ')}; topic back: drained ${after.published} in ${drainSeconds.toFixed(1)}s, ` +
        `events on the new topic ${onTopic.length} (${onTopic.map((e) => `${(e.group ?? '').slice(0, 4)}:${e.state}`).join(',')})`,
    );
    // The round went on: state stepped (the new surges' transitions committed to the outbox), gauges
    // exported, the webhook got the events; Kafka got nothing and the failure is counted.
    expect(down.outcome).toBe('ok');
    for (const issuer of ISSUERS.slice(1, 3))
      expect(down.transitions.map((t) => t.record.group)).toContain(issuer);
    expect(down.published).toBe(0);
    expect(outboxDown).toBe(down.transitions.length);
    expect(pendingDown).toContain(`finsentry_alert_outbox_events ${outboxDown}`);
    expect(failures).toContain('finsentry_alert_publish_failures_total 1');
    expect(negativeShare.length).toBeGreaterThan(0);
    for (const issuer of ISSUERS.slice(1, 3)) expect(webhookDown.has(issuer)).toBe(true);
    // Drained: every event held while the topic was gone is on the new topic, in commit order.
    const onTopicKeys = onTopic.map(key);
    expect(outboxEvents.map(key).filter((k) => !onTopicKeys.includes(k))).toEqual([]);
    expect(onTopicKeys.slice(0, outboxDown)).toEqual(outboxEvents.map(key));
    expect(await gauge('finsentry_alert_outbox_events')).toContain('finsentry_alert_outbox_events 0');
  });
});
