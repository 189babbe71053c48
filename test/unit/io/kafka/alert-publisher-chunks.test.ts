// The Kafka alert publisher cuts a burst into produce requests under the byte limit, in order (issue 14:
// the outbox went out as one unchunked send, and a burst over the broker's 1 MB limit failed for ever).
// The producer here only records the requests it is given: what is tested is the cutting, not Kafka
// (test/faults/alerts-topic-down.test.ts publishes to the real broker).
import type { Producer, ProducerRecord } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { decodeAlertEvent, type AlertEvent } from '../../../../src/alerts/events.js';
import { kafkaAlertPublisher } from '../../../../src/io/kafka/alert-publisher.js';

const event = (i: number, summaryChars: number): AlertEvent => ({
  fingerprint: `fp${i}`,
  rule: 'NegativeSentimentSurge',
  kind: 'sentiment',
  state: 'firing',
  severity: 'critical',
  dimension: 'issuer',
  group: `g${i}`,
  metric: 'negative_share_surge',
  value: 0.8,
  threshold: 0.5,
  window_ms: 300_000,
  sample_size: 60,
  p_value: 0.0001,
  started_at: 1,
  ended_at: null,
  summary: 'x'.repeat(summaryChars),
  runbook_url: 'https://example.invalid/runbook',
  labels: { event_id: `fp${i}:1:firing` },
});

describe('kafka alert publisher', () => {
  it('sends a burst in order, in requests of at most maxBatchBytes', async () => {
    const requests: ProducerRecord[] = [];
    const producer = { send: (r: ProducerRecord) => (requests.push(r), Promise.resolve([])) };
    const publisher = kafkaAlertPublisher(producer as unknown as Producer, 'alerts', undefined, 50_000);
    const events = Array.from({ length: 40 }, (_, i) => event(i, 4_000));
    await publisher.publish(events);
    const sizes = requests.map((r) =>
      r.messages.reduce((n, m) => n + (m.value as Buffer).length + String(m.key).length + 64, 0),
    );
    const sent = requests.flatMap((r) => r.messages.map((m) => decodeAlertEvent(m.value as Buffer).group));
    console.log(
      `alert publisher: 40 events of ~4 KB → ${requests.length} requests, max ${Math.max(...sizes)} bytes`,
    );
    expect(requests.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(50_000);
    expect(sent).toEqual(events.map((e) => e.group));
    expect(requests.every((r) => r.topic === 'alerts' && r.acks === -1)).toBe(true);
  });
});
