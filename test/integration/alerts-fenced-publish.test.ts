// Issue 14, the leader row: "both replicas publish to Kafka". The Redis fence is checked before each
// publish, but between that check and the send the lease can move. The evaluator's Kafka publisher
// (FencedAlertPublisher) closes that gap with Kafka's own zombie fencing: every replica uses one
// transactional id, and a new leader's first publish of its term bumps the producer epoch. Here, on
// the real broker: a leader publishes, a successor opens its term, and the former leader's next
// publish — with no new check of its own, as after a pause between the Redis check and the send — is
// refused by the broker and writes nothing, not even an aborted record.
import { afterAll, describe, expect, it } from 'vitest';
import { decodeAlertEvent, type AlertEvent } from '../../src/alerts/events.js';
import { FencedAlertPublisher } from '../../src/io/kafka/alert-publisher.js';
import { testKafka } from '../helpers/avro-producer.js';
import { readToEnd } from '../helpers/read-to-end.js';
import { createTopic, deleteTopics, uniqueName } from '../helpers/stack.js';

const kafka = testKafka('fenced-publish');
const topic = uniqueName('fs-fenced-alerts');
const transactionalId = uniqueName('fs-fenced.evaluator');

function event(id: string): AlertEvent {
  return {
    fingerprint: `fp-${id}`,
    rule: 'NegativeSentimentSurge',
    kind: 'sentiment',
    state: 'firing',
    severity: 'critical',
    dimension: 'issuer',
    group: 'acme',
    metric: 'negative_share',
    value: 0.6,
    threshold: 0.3,
    window_ms: 600_000,
    sample_size: 40,
    p_value: null,
    started_at: Date.now(),
    ended_at: null,
    summary: `event ${id}`,
    runbook_url: 'docs/runbooks.md#negativesentimentsurge',
    labels: { event_id: id },
  };
}

const publishers: FencedAlertPublisher[] = [];
afterAll(async () => {
  for (const p of publishers) await p.close();
  await deleteTopics([topic]);
});

describe('alert publishing fenced by Kafka transactions', () => {
  it("a former leader's publish after its successor opened a term is refused and writes nothing", async () => {
    await createTopic(topic, 2);
    const open = () => {
      const p = new FencedAlertPublisher(kafka, transactionalId, { topic });
      publishers.push(p);
      return p;
    };
    const former = open();
    const successor = open();

    await former.openTerm({ token: 7, leaseValue: 'a|7' });
    await former.publish([event('a-1'), event('a-2')]);
    await successor.openTerm({ token: 8, leaseValue: 'b|8' });
    // The former leader passed its Redis check before the lease moved; its send comes after.
    await expect(former.publish([event('a-3')])).rejects.toThrow();
    await successor.publish([event('b-1')]);
    // Its own term again (a replica reopening with the token it had) is a new initialisation: it would
    // fence the successor, so the evaluator only opens a term after the Redis fence check passed.

    const committed = (await readToEnd(kafka, topic)).map((r) => decodeAlertEvent(r.message.value!));
    const everything = (await readToEnd(kafka, topic, { isolation: 'read_uncommitted' })).map((r) =>
      decodeAlertEvent(r.message.value!),
    );
    const ids = (events: AlertEvent[]) => events.map((e) => e.labels.event_id).sort();
    expect(ids(committed)).toEqual(['a-1', 'a-2', 'b-1']);
    expect(ids(everything)).toEqual(['a-1', 'a-2', 'b-1']);
  }, 120_000);
});
