import { describe, expect, it } from 'vitest';
import { schemaType } from '../../../../src/codec/schemas.js';
import { generateScenario } from '../../../../src/tools/scenarios/generate.js';
import { parseRecordedLine, toRecordedLine } from '../../../../src/tools/scenarios/recorded.js';
import { replayMessages } from '../../../../src/tools/scenarios/replay.js';
import { TokenBucket, type Clock } from '../../../../src/tools/scenarios/token-bucket.js';
import type { RecordSink } from '../../../../src/io/kafka/producer.js';

/** A virtual clock: sleeping advances time instantly, so pacing arithmetic is checked without waiting. */
function virtualClock(): Clock & { slept: number } {
  let now = 0;
  const clock = {
    slept: 0,
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
      clock.slept += ms;
    },
  };
  return clock;
}

describe('token bucket', () => {
  it('lets a burst through at once, then paces at the rate', async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(100, 10, clock);
    await bucket.take(10);
    expect(clock.now()).toBe(0);
    await bucket.take(50);
    expect(clock.now()).toBeCloseTo(500, 6); // 50 tokens at 100/s
    await bucket.take(1);
    expect(clock.now()).toBeCloseTo(510, 6);
  });

  it('refills only up to the burst size', async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(10, 5, clock);
    await bucket.take(5);
    await clock.sleep(10_000); // idle: refills to 5, not 100
    const before = clock.now();
    await bucket.take(6);
    expect(clock.now() - before).toBeCloseTo(100, 6); // one token short
  });
});

describe('replay loop', () => {
  it('sends every message to its topic in order, batched and paced at the wall-clock rate', async () => {
    const clock = virtualClock();
    const sent: Array<{ topic: string; key: string | null }> = [];
    let sends = 0;
    const sink: RecordSink = {
      send: async (batches) => {
        sends++;
        for (const b of batches)
          for (const r of b.records) sent.push({ topic: b.topic, key: r.key as string | null });
      },
    };
    const run = generateScenario({
      name: 'clean',
      seed: 9,
      startMs: 0,
      durationMs: 600_000,
      ratePerSecond: 2,
    });
    const messages = [...run.messages].map((m) => ({
      topic: m.topic,
      key: m.key,
      value: m.value,
      headers: m.headers,
      eventTimeMs: m.eventTimeMs,
    }));
    const progress = await replayMessages(messages, sink, {
      topics: { news: 'n.raw', chat: 'c.raw', labels: null },
      ratePerSecond: 400,
      maxBatch: 500,
      clock,
    });
    expect(progress.sent).toBe(messages.length);
    expect(progress.done).toBe(true);
    // Order is kept per topic (Kafka orders per partition; a batch groups its records by topic).
    for (const [logical, topic] of [
      ['news', 'n.raw'],
      ['chat', 'c.raw'],
    ] as const) {
      expect(sent.filter((s) => s.topic === topic).map((s) => s.key)).toEqual(
        messages.filter((m) => m.topic === logical).map((m) => m.key),
      );
    }
    // ~20 sends per second at 400/s: batches of 20.
    expect(sends).toBe(Math.ceil(messages.length / 20));
    // Wall time: everything beyond the first burst is paced at 400/s.
    expect(clock.now()).toBeCloseTo(((messages.length - 20) / 400) * 1000, -1);
    expect(progress.speedup).toBeGreaterThan(100); // 600 s of event time in ~3 s
  });
});

describe('recorded traffic lines', () => {
  it('round-trips generated messages through JSONL byte for byte', () => {
    const run = generateScenario({
      name: 'poison',
      seed: 5,
      startMs: 1_767_600_000_000,
      durationMs: 600_000,
      ratePerSecond: 2,
      schemaIds: { news: 1, chat: 2 },
    });
    for (const m of run.messages) {
      const back = parseRecordedLine(toRecordedLine(m), 1, {});
      expect(back.topic).toBe(m.topic);
      expect(back.key).toBe(m.key);
      expect(back.value.equals(m.value)).toBe(true);
      expect(back.headers).toEqual(m.headers);
      expect(back.eventTimeMs).toBe(m.eventTimeMs);
      expect(toRecordedLine(m)).not.toMatch(/"truth"|negative|positive/); // the intended label stays out of the traffic
    }
  });

  it('encodes a hand-written JSON record with schema defaults, in the requested framing', () => {
    const line = JSON.stringify({
      topic: 'news',
      key: 'n-1',
      record: {
        id: 'n-1',
        source: 'globalwire',
        published_at: 1_767_600_000_000,
        headline: 'Acme beats estimates',
        body: 'Net sales rose.',
        language: 'en',
      },
      framing: 'confluent',
    });
    const m = parseRecordedLine(line, 7, { news: 21, chat: 22 });
    expect(m.value[0]).toBe(0);
    expect(m.value.readUInt32BE(1)).toBe(21);
    expect(schemaType('NewsArticle').fromBuffer(m.value.subarray(5))).toMatchObject({
      id: 'n-1',
      tickers: [],
      region: null,
      url: null,
    });
  });

  it('names the line and the problem on bad input', () => {
    expect(() => parseRecordedLine('{"topic":"news"}', 3, {})).toThrow(/line 3: .*exactly one of "value"/);
    expect(() => parseRecordedLine('{"topic":"tweets","value":""}', 4, {})).toThrow(/line 4: topic/);
    expect(() => parseRecordedLine('not json', 5, {})).toThrow(/line 5: not JSON/);
    expect(() => parseRecordedLine('{"topic":"chat","record":{"id":"x"}}', 6, {})).toThrow(
      /line 6: record does not fit the ChatMessage schema/,
    );
  });
});
