import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { StatsObservation } from '../../src/domain/observation.js';
import type { StatsBatch } from '../../src/domain/windows.js';
import type { RedisClient } from '../../src/io/redis/client.js';
import { storyRegistryFromConfig, type RedisStoryRegistry } from '../../src/io/redis/story-registry.js';
import { RedisWindowStore } from '../../src/io/redis/window-store.js';
import { liveObservationBuilder } from '../../src/app/observations.js';
import { MemoryStoryRegistry, withRegistryStoryIds } from '../../src/stats/shared-stories.js';
import { hammingDistance, storyFingerprint } from '../../src/stats/story.js';
import { windowStoreOptions } from '../../src/stats/windows/rules.js';
import {
  batchesOf,
  NewsTraffic,
  scoredEnrichment,
  trafficIssuers,
  type Delivery,
} from '../helpers/news-traffic.js';
import { redisClusterNodes, redisUrl, uniqueName, waitFor } from '../helpers/stack.js';

/**
 * The shared story registry (src/stats/shared-stories.ts, docs/alerting.md "Surge") on the real Redis,
 * single node and 3-node cluster, with two replicas as the service runs them: each its own observation
 * builder (its own per-process StoryIndex) and its own Redis client, consuming half of the input
 * partitions. Traffic: 40 Zipf issuers, syndication λ = 1.5, copies up to 3 minutes apart and 2–4
 * minutes late, producer duplicates; a third of the restyled copies are also lightly rewritten.
 */

const MINUTE = 60_000;
const T0 = Math.floor((Date.now() - 86_400_000) / MINUTE) * MINUTE;
const PARTITIONS = 4;
const MINUTES = 30;

/** Replica A reads partitions 0–1, replica B 2–3 (a Kafka assignment of two members). */
const replicaOfPartition = (partition: number): 'a' | 'b' => (partition < 2 ? 'a' : 'b');
const replicaOf = (b: StatsBatch): 'a' | 'b' => replicaOfPartition(Number(b.partitionKey.split(':')[1]));

/** The story a delivery belongs to in truth (the generator writes "in story <n>" in every body). */
const trueStory = (d: Delivery): string => /in story (\d+)\./.exec(d.doc.text)![1]!;

/** A third of the restyled copies lightly rewritten: one word of the body changed (a near copy). */
function withRewrites(deliveries: Delivery[], rand: () => number): Delivery[] {
  return deliveries.map((d) =>
    !String(d.doc.attributes.source).startsWith('wire') && rand() < 0.33
      ? { ...d, doc: { ...d.doc, text: d.doc.text.replace(' said ', ' reported ') } }
      : d,
  );
}

function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Minute {
  deliveries: Delivery[];
  /** Per replica, its batches (observations with the replica's own story ids and fingerprints). */
  byReplica: Record<'a' | 'b', StatsBatch[]>;
  /** The same observations with the story ids of one process that reads every partition. */
  single: Map<string, string>;
}

const TARGETS: Array<{ name: string; connect: () => RedisClient }> = [
  { name: 'single Redis', connect: () => new Redis(redisUrl(), { maxRetriesPerRequest: 3 }) },
  { name: 'Redis Cluster', connect: () => new Cluster(redisClusterNodes(), { scaleReads: 'master' }) },
];

describe.each(TARGETS)('shared story registry on $name', ({ connect }) => {
  const prefix = uniqueName('fs-t-story').replace(/[^A-Za-z0-9:_-]/g, '');
  const config = parseConfig({ redis: { keyPrefix: prefix } });
  const replicas = { a: connect(), b: connect() };
  let registries: Record<'a' | 'b', RedisStoryRegistry>;
  const minutes: Minute[] = [];

  beforeAll(async () => {
    for (const r of Object.values(replicas))
      await waitFor(async () => (await r.ping()) === 'PONG', 120_000, 250);
    registries = {
      a: storyRegistryFromConfig(replicas.a, config)!,
      b: storyRegistryFromConfig(replicas.b, config)!,
    };
    const issuers = trafficIssuers(40, 5);
    const traffic = new NewsTraffic(issuers, T0, {
      seed: 23,
      issuers: 40,
      storiesPerMinute: 4,
      lambda: 1.5,
      partitions: PARTITIONS,
    });
    const builders = { a: liveObservationBuilder(config), b: liveObservationBuilder(config) };
    const oneProcess = liveObservationBuilder(config);
    const rand = mulberry(9);
    for (let m = 0; m < MINUTES; m++) {
      const deliveries = withRewrites(traffic.minute(m), rand);
      // Each replica builds the observations of its own partitions only (its own StoryIndex).
      const batches = batchesOf(deliveries, traffic.offsets, (doc, e) =>
        builders[replicaOfPartition(doc.position.partition)](doc, e),
      );
      const byReplica = {
        a: batches.filter((b) => replicaOf(b) === 'a'),
        b: batches.filter((b) => replicaOf(b) === 'b'),
      };
      const single = new Map<string, string>();
      for (const b of [...byReplica.a, ...byReplica.b])
        for (const o of b.observations) {
          const d = deliveries.find((x) => x.doc.id === o.documentId)!;
          single.set(
            o.documentId,
            oneProcess({ ...d.doc, position: { ...d.doc.position } }, d.enrichment)!.storyId!,
          );
        }
      minutes.push({ deliveries, byReplica, single });
    }
  });

  afterAll(async () => {
    await registries?.a.clear();
    for (const r of Object.values(replicas)) r.disconnect();
  });

  /** Story ids per document id: the replicas' own, and the registry's (replica A then B each minute). */
  async function resolveAll(registry: (replica: 'a' | 'b') => { resolve: typeof registries.a.resolve }) {
    const own = new Map<string, string>();
    const shared = new Map<string, string>();
    for (const { byReplica } of minutes)
      for (const replica of ['a', 'b'] as const) {
        const observations = byReplica[replica].flatMap((b) => b.observations);
        const resolved = await withRegistryStoryIds(observations, registry(replica));
        observations.forEach((o, i) => {
          own.set(o.documentId, o.storyId!);
          shared.set(o.documentId, resolved[i]!.storyId!);
        });
      }
    return { own, shared };
  }

  it('gives every copy of a story one id whichever replica reads it, as one process would; per-replica indexes do not', async () => {
    const { own, shared } = await resolveAll((r) => registries[r]);
    const memory = new MemoryStoryRegistry({
      windowMs: config.stats.stories.window,
      maxHammingDistance: 7,
      ttlMs: config.stats.stories.window + config.stats.allowedLateness,
    });
    const { shared: expected } = await resolveAll(() => memory);
    expect(shared.size).toBeGreaterThan(250);
    expect([...shared]).toEqual([...expected]);

    // One process reading every partition in the same order gives the same ids.
    const single = new Map(minutes.flatMap((m) => [...m.single]));
    expect([...shared].filter(([doc, id]) => single.get(doc) !== id)).toEqual([]);

    // Truth: the ids each story's documents get. Per-replica indexes split stories; the registry
    // splits only what one process splits too (rewrites beyond the SimHash threshold).
    const idsPerStory = (ids: Map<string, string>) => {
      const out = new Map<string, Set<string>>();
      for (const { deliveries } of minutes)
        for (const d of deliveries) {
          const id = ids.get(d.doc.id);
          if (id !== undefined) out.set(trueStory(d), (out.get(trueStory(d)) ?? new Set()).add(id));
        }
      return out;
    };
    const split = (ids: Map<string, string>) =>
      [...idsPerStory(ids).values()].filter((s) => s.size > 1).length;
    console.log('story registry:', {
      documents: shared.size,
      stories: idsPerStory(shared).size,
      splitByReplicaIndexes: split(own),
      splitByRegistry: split(shared),
      splitByOneProcess: split(single),
    });
    expect(split(shared)).toBe(split(single));
    expect(split(own)).toBeGreaterThan(split(shared) + 20); // copies on the other replica's partitions
    // Distinct stories stay distinct.
    const storyOfId = new Map<string, string>();
    for (const [story, ids] of idsPerStory(shared))
      for (const id of ids) {
        expect(storyOfId.get(id) ?? story).toBe(story);
        storyOfId.set(id, story);
      }
  });

  it('resolves a replayed minute to the ids it gave before', async () => {
    const { byReplica } = minutes[12]!;
    const observations = byReplica.b.flatMap((b) => b.observations);
    const first = await withRegistryStoryIds(observations, registries.b);
    const again = await withRegistryStoryIds(observations, registries.a);
    expect(again).toEqual(first);
  });

  it('keeps a story within its event-time window only, and a far-future record evicts nothing', async () => {
    const text =
      'Northwind Energy said on Tuesday that output at its northern refinery fell by a third after a fire shut two units, that repairs would take until March, that it had cut its full-year guidance for refined volumes and margins, and that insurers had been notified of the damage to the plant.';
    const rewritten = text.replace('fire', 'blaze');
    expect(
      hammingDistance(storyFingerprint(text).simHash!, storyFingerprint(rewritten).simHash!),
    ).toBeLessThanOrEqual(7);
    const at = T0 + 5 * MINUTE;
    const request = (documentId: string, t: string, eventTimeMs: number) => ({
      documentId,
      fingerprint: storyFingerprint(t),
      eventTimeMs,
    });
    const window = config.stats.stories.window;
    const ids = await registries.a.resolve([
      request('w-1', text, at),
      request('w-future', 'an unrelated text about rates and bonds', at + 365 * 86_400_000),
      request('w-2', text.toUpperCase(), at + window - 1),
      request('w-3', rewritten, at + 10 * MINUTE),
      request('w-4', text, at + window + 1),
      request('w-5', rewritten, at - 5 * MINUTE),
    ]);
    expect(ids).toEqual(['w-1', 'w-future', 'w-1', 'w-1', 'w-4', 'w-1']);
  });

  it('counts a syndicated story once per issuer across two replicas; per-replica ids count it twice', async () => {
    const count = async (shared: boolean): Promise<number> => {
      const p = uniqueName('fs-t-synd').replace(/[^A-Za-z0-9:_-]/g, '');
      const cfg = parseConfig({ redis: { keyPrefix: p } });
      const stores = {
        a: new RedisWindowStore(replicas.a, windowStoreOptions(cfg)),
        b: new RedisWindowStore(replicas.b, windowStoreOptions(cfg)),
      };
      try {
        const builders = { a: liveObservationBuilder(cfg), b: liveObservationBuilder(cfg) };
        const text =
          'Acme Rail said freight volumes collapsed and guidance was withdrawn for the year. '.repeat(3);
        const batches: StatsBatch[] = Array.from({ length: 6 }, (_, k) => {
          const replica = k < 3 ? 'a' : 'b';
          const copy = k % 2 ? text : text.toUpperCase(); // restyled by some outlets
          const obs = {
            ...syndicatedCopy(builders[replica], `acme-${k}`, copy, T0 + k * 20_000),
            offset: '0',
          };
          return { partitionKey: `news.raw:${k}`, lastOffset: '0', observations: [obs], labels: [] };
        });
        for (const replica of ['a', 'b'] as const) {
          // As the pipeline does (src/pipeline/chunk-flow.ts): the registry's ids before the apply.
          const registry = storyRegistryFromConfig(replicas[replica], cfg)!;
          const own = batches.filter((_, k) => (k < 3 ? 'a' : 'b') === replica);
          // One micro-batch after another, as a replica's partition workers resolve them.
          const resolved: StatsBatch[] = [];
          for (const b of own)
            resolved.push(
              shared ? { ...b, observations: await withRegistryStoryIds(b.observations, registry) } : b,
            );
          await stores[replica].apply(resolved);
        }
        const window = await stores.a.readWindow({
          dimension: 'ticker',
          windowMs: 60 * MINUTE,
          endMs: T0 + 10 * MINUTE,
        });
        return window.find((g) => g.group === 'ACME')?.count ?? 0;
      } finally {
        await stores.a.deleteAll();
        await storyRegistryFromConfig(replicas.a, cfg)!.clear();
      }
    };
    expect(await count(true)).toBe(1);
    expect(await count(false)).toBe(2);
  });
});

/** One copy's observation as a replica builds it (its own StoryIndex), ticker "acme", negative. */
function syndicatedCopy(
  build: ReturnType<typeof liveObservationBuilder>,
  id: string,
  text: string,
  eventTimeMs: number,
): StatsObservation {
  const doc = {
    id,
    kind: 'news' as const,
    eventTimeMs,
    text,
    attributes: { source: 'wire', language: 'en', region: 'amer', tickers: ['ACME'] },
    position: { topic: 'news.raw', partition: 0, offset: '0' },
    key: Buffer.from(id),
    headers: {},
  };
  const observation = build(doc, scoredEnrichment('negative', 0.8, []));
  if (!observation) throw new Error('no observation');
  return observation;
}
