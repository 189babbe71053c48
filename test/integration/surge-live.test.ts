import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { effectiveAlertRules } from '../../src/alerts/default-rules.js';
import { Evaluator } from '../../src/alerts/evaluator.js';
import { evaluatorSettings, referenceFromConfig } from '../../src/alerts/evaluator-config.js';
import type { AlertEvent } from '../../src/alerts/events.js';
import { liveObservationBuilder } from '../../src/app/observations.js';
import { parseConfig } from '../../src/config/load.js';
import type { StatsApplyResult, StatsBatch } from '../../src/domain/windows.js';
import { redisAlertPorts } from '../../src/io/redis/alert-ports.js';
import { AlertStore } from '../../src/io/redis/alert-store.js';
import { RedisStoryExemplars, storyExemplarsFromConfig } from '../../src/io/redis/story-exemplars.js';
import { RedisWindowStore } from '../../src/io/redis/window-store.js';
import { formatIssuerCsv } from '../../src/stats/issuer-master.js';
import {
  ALERT_STORY_LIMIT,
  MemoryStoryExemplars,
  withStoryExemplars,
} from '../../src/stats/story-exemplars.js';
import { MemoryWindowStore } from '../../src/stats/windows/memory-store.js';
import { windowStoreOptions } from '../../src/stats/windows/rules.js';
import {
  batchesOf,
  HISTORY_MINUTES,
  masterOf,
  NewsTraffic,
  SURGE,
  SURGE_TRAFFIC,
  SYNDICATED,
  trafficIssuers,
} from '../helpers/news-traffic.js';
import { redisClusterNodes, redisUrl, uniqueName } from '../helpers/stack.js';

/**
 * The live surge path on the real Redis (docs/alerting.md "Surge"): the service's observation
 * builder with the security master loaded from stats.issuers.file (issuer ids from tickers, names and
 * aliases; story ids from the text), the Redis window store counting a story once per issuer and
 * ticker (claims in Lua, one slot per group), and the evaluator with the shipped rules reading the
 * surge rule's own 24 h reference from Redis. Traffic (test/helpers/news-traffic.ts): 150 issuers
 * with Zipf volume and their own rates, syndication, 2–4 min late records, records 20 min late,
 * producer duplicates and redelivered batches, over 3 partitions. A 6-outlet negative story must not
 * fire NegativeSentimentSurge; a real surge must, once, on the issuer id.
 * test/unit/alerts/memory/alerting-surge.test.ts shows on memory that the same story counted per document fires.
 */

const MINUTE = 60_000;
// Two days ago on a minute boundary: event time far from the wall clock, as in a replay.
const T0 = Math.floor((Date.now() - 2 * 86_400_000) / MINUTE) * MINUTE;
const MINUTES = HISTORY_MINUTES + 50;

describe('surge on live-path observations, Redis window store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-surge-'));
  const issuers = trafficIssuers(SURGE_TRAFFIC.issuers, SURGE_TRAFFIC.seed);
  const file = join(dir, 'issuers.csv');
  writeFileSync(file, formatIssuerCsv(masterOf(issuers)));
  const prefix = uniqueName('fs-surge').replace(/[^A-Za-z0-9:_-]/g, '');
  const config = parseConfig({ redis: { keyPrefix: prefix }, stats: { issuers: { file } } });
  const redis = new Redis(redisUrl());
  const store = new RedisWindowStore(redis, windowStoreOptions(config));
  const mirror = new MemoryWindowStore(windowStoreOptions(config));
  // The stories behind the counts, as the service records them (docs/alerting.md "Surge").
  const exemplars = storyExemplarsFromConfig(redis, config)!;
  const exemplarOptions = { bucketMs: config.stats.bucket, dimensions: config.stats.stories.dedupDimensions };
  const mirrorExemplars = new MemoryStoryExemplars({
    ...exemplarOptions,
    perBucket: ALERT_STORY_LIMIT,
    retentionMs: 86_400_000,
  });
  const sink = withStoryExemplars(store, exemplars);
  const mirrorSink = withStoryExemplars(mirror, mirrorExemplars);
  const events: AlertEvent[] = [];
  const evaluator = new Evaluator({
    ...evaluatorSettings(config),
    ...redisAlertPorts({ redis, keyPrefix: prefix, leaseMs: 60_000 }),
    clock: 'event',
    windows: store,
    stories: exemplars,
    reference: referenceFromConfig(config, store),
    rules: effectiveAlertRules(config).filter((r) => r.name === 'NegativeSentimentSurge'),
    publishers: [{ publish: async (published) => void events.push(...published) }],
  });

  afterAll(async () => {
    await evaluator.stop(true);
    await new AlertStore(redis, prefix).clear();
    await store.deleteAll();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Evaluation rounds until the event clock stops moving (the condition, not a wait). */
  async function drain(): Promise<void> {
    await evaluator.lease.tick(); // renewed as the running evaluator's timer would
    let last = -1;
    while (evaluator.eventTimeMs !== last) {
      last = evaluator.eventTimeMs;
      await evaluator.evaluateOnce();
    }
  }

  it('a syndicated story fires nothing, a real surge fires once on the issuer id', async () => {
    await evaluator.lease.tick();
    expect(evaluator.lease.isLeader()).toBe(true);
    const build = liveObservationBuilder(config);
    const traffic = new NewsTraffic(issuers, T0, { ...SURGE_TRAFFIC, syndicated: SYNDICATED, surge: SURGE });
    const target = issuers[SYNDICATED.issuer]!.id;
    const results: StatsApplyResult[] = [];
    /** Documents and distinct stories of the syndicated issuer around the syndication, as delivered. */
    const around = { documents: 0, stories: new Set<string>() };
    const inWindow = (t: number) =>
      t >= T0 + SYNDICATED.atMinute * MINUTE && t < T0 + (SYNDICATED.atMinute + 5) * MINUTE;
    for (let m = 0; m < MINUTES; m++) {
      const batches: StatsBatch[] = batchesOf(traffic.minute(m), traffic.offsets, build);
      const applied = await sink.apply(batches);
      expect(await mirrorSink.apply(batches)).toEqual(applied);
      const refused = new Set(applied.flatMap((r) => r.refused ?? []).map((r) => r.documentId));
      for (const o of batches.flatMap((b) => b.observations))
        if (
          !refused.has(o.documentId) &&
          inWindow(o.eventTimeMs) &&
          o.groups.some((g) => g.dimension === 'issuer' && g.value === target)
        ) {
          around.documents++;
          around.stories.add(o.storyId!);
        }
      results.push(...applied);
      if (m % 9 === 0) expect((await sink.apply(batches)).every((r) => !r.applied)).toBe(true);
      if (m >= HISTORY_MINUTES - 10) await drain();
    }

    // The store counted stories: copies skipped, the syndicated issuer's window holds its stories.
    const copies = results.reduce((n, r) => n + (r.storyCopies ?? 0), 0);
    const late = results.reduce((n, r) => n + r.late, 0);
    const query = {
      dimension: 'issuer',
      windowMs: 5 * MINUTE,
      endMs: T0 + (SYNDICATED.atMinute + 5) * MINUTE,
    };
    const window = (await store.readWindow(query)).find((g) => g.group === target);
    expect(await mirror.readWindow(query)).toEqual(await store.readWindow(query));
    console.log(
      `${results.length} batches, ${copies} story copies skipped, ${late} late; ${target} around the syndication: ${around.documents} documents, ${around.stories.size} stories, counted ${window?.count}`,
    );
    expect(copies).toBeGreaterThan(0);
    expect(late).toBeGreaterThan(0);
    // The planted story's outlets are in the window; counted, it is one story (a story first counted
    // before the window is not counted again in it, so the count may be below the stories seen).
    expect(around.documents).toBeGreaterThanOrEqual(around.stories.size + SYNDICATED.outlets - 1);
    expect(window!.count).toBeGreaterThan(0);
    expect(window!.count).toBeLessThanOrEqual(around.stories.size);
    // No issuer group is a name, alias, ticker or fragment: every one is a security-master id.
    const ids = new Set(issuers.map((i) => i.id));
    const groups = await store.readWindow({ dimension: 'issuer', windowMs: 60 * MINUTE });
    expect(groups.length).toBeGreaterThan(20);
    expect(groups.filter((g) => !ids.has(g.group))).toEqual([]);

    const firing = events.filter((e) => e.rule === 'NegativeSentimentSurge' && e.state === 'firing');
    expect(firing.map((e) => e.group)).toEqual([issuers[SURGE.issuer]!.id]);
    const delayMs = Date.parse(firing[0]!.labels.firing_since!) - (T0 + SURGE.fromMinute * MINUTE);
    console.log(`surge detected ${delayMs / MINUTE} min after it began`);
    expect(delayMs).toBeGreaterThan(0);
    expect(delayMs).toBeLessThanOrEqual(10 * MINUTE);
    // The alert names the issuer's most negative stories of its window, one id per story, read from
    // Redis as the in-memory mirror keeps them (redeliveries included).
    const top = await mirrorExemplars.topNegative({
      dimension: 'issuer',
      group: firing[0]!.group!,
      windowMs: 5 * MINUTE,
      endMs: Date.parse(firing[0]!.labels.firing_since!),
      limit: ALERT_STORY_LIMIT,
    });
    expect(top.length).toBeGreaterThan(1);
    expect(firing[0]!.labels.story_ids!.split(',')).toEqual(top.map((e) => e.storyId));
    console.log(`surge alert story_ids: ${firing[0]!.labels.story_ids}`);
  }, 600_000);

  it('counts stories alike on Redis Cluster (claims of one group in one slot)', async () => {
    const cluster = new Cluster(redisClusterNodes(), { scaleReads: 'master' });
    const onCluster = new RedisWindowStore(cluster, windowStoreOptions(config, `${prefix}-c`));
    const inMemory = new MemoryWindowStore(windowStoreOptions(config));
    // Story ids too: one pipeline per group, its keys in one slot.
    const clusterStories = new RedisStoryExemplars(cluster, {
      ...exemplarOptions,
      keyPrefix: `${prefix}-c`,
      ttlSeconds: 3600,
      perBucket: ALERT_STORY_LIMIT,
    });
    const memoryStories = new MemoryStoryExemplars({
      ...exemplarOptions,
      perBucket: ALERT_STORY_LIMIT,
      retentionMs: 86_400_000,
    });
    try {
      const build = liveObservationBuilder(config);
      const traffic = new NewsTraffic(issuers, T0, { ...SURGE_TRAFFIC, syndicated: SYNDICATED });
      let copies = 0;
      for (let m = 0; m < 30; m++) {
        const batches = batchesOf(traffic.minute(m), traffic.offsets, build);
        const applied = await withStoryExemplars(onCluster, clusterStories).apply(batches);
        expect(await withStoryExemplars(inMemory, memoryStories).apply(batches)).toEqual(applied);
        copies += applied.reduce((n, r) => n + (r.storyCopies ?? 0), 0);
      }
      expect(copies).toBeGreaterThan(0);
      const stories = { dimension: 'issuer', windowMs: 30 * MINUTE, endMs: T0 + 30 * MINUTE, limit: 5 };
      const groups = (await inMemory.readWindow({ dimension: 'issuer', windowMs: 30 * MINUTE })).slice(0, 10);
      let named = 0;
      for (const { group } of groups) {
        const top = await memoryStories.topNegative({ ...stories, group });
        named += top.length;
        expect(await clusterStories.topNegative({ ...stories, group })).toEqual(top);
      }
      expect(named).toBeGreaterThan(0);
      for (const dimension of ['issuer', 'ticker', 'source'])
        expect(await inMemory.readWindow({ dimension, windowMs: 30 * MINUTE })).toEqual(
          await onCluster.readWindow({ dimension, windowMs: 30 * MINUTE }),
        );
    } finally {
      await onCluster.deleteAll();
      cluster.disconnect();
    }
  });
});
