import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SENTIMENT_LABELS, type SentimentLabel } from '../../src/domain/enrichment.js';
import type { LabelObservation, StatsObservation } from '../../src/domain/observation.js';
import type { StatsBatch } from '../../src/domain/windows.js';
import { isCluster, type RedisClient } from '../../src/io/redis/client.js';
import {
  RedisWindowStore,
  topGroupsByVolume,
  windowEndFor,
  type WindowStoreOptions,
} from '../../src/io/redis/window-store.js';
import { ALL_DIMENSION } from '../../src/stats/grouping.js';
import { histogramBin } from '../../src/stats/histograms.js';
import { redisClusterNodes, redisUrl, uniqueName, waitFor } from '../helpers/stack.js';

/**
 * The window store against real Redis, on a single node and on the 3-node cluster: effectively-once
 * (duplicate batches, replays that straddle the stored offset, a crash and restart mid-stream),
 * event-time order independence within the allowed lateness, late events excluded and counted.
 */

const MINUTE = 60_000;
const T0 = 1_767_225_600_000; // 2026-01-01T00:00Z, a bucket boundary
const DIMENSIONS = ['kind', 'region', 'language', 'ticker', 'issuer'];
const REGIONS = ['emea', 'amer', 'apac', 'latam'];
const LANGUAGES = ['en', 'de', 'fr'];
const TICKERS = ['AAPL', 'MSFT', 'TSLA', 'JPM', 'BNP', 'SAP', 'HSBA', 'NESN'];
const ISSUERS = ['apple', 'microsoft', 'tesla', 'jpmorgan', 'bnp paribas', 'sap'];

/** Deterministic PRNG (mulberry32), so every run checks the same streams. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Record_ {
  partitionKey: string;
  offset: number;
  obs: StatsObservation;
}

/**
 * A stream of observations over `partitions` partitions, event times increasing by partition and
 * offset (±jitter within `jitterMs`), spread over `minutes` minutes.
 */
function makeStream(n: number, partitions: number, minutes: number, seed: number, jitterMs = 0): Record_[] {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const out: Record_[] = [];
  const perPartition = Math.ceil(n / partitions);
  for (let p = 0; p < partitions; p++) {
    for (let i = 0; i < perPartition && out.length < n; i++) {
      const base = T0 + Math.floor((i / perPartition) * minutes * MINUTE);
      const eventTimeMs = base + Math.floor((rand() - 0.5) * 2 * jitterMs);
      const pNeg = rand();
      const pPos = (1 - pNeg) * rand();
      const probs: Record<SentimentLabel, number> = {
        negative: pNeg,
        neutral: 1 - pNeg - pPos,
        positive: pPos,
      };
      const label = SENTIMENT_LABELS.reduce((a, b) => (probs[b] > probs[a] ? b : a));
      const groups = [
        { dimension: ALL_DIMENSION, value: 'all' },
        { dimension: 'kind', value: rand() < 0.7 ? 'news' : 'chat' },
        { dimension: 'region', value: pick(REGIONS) },
        { dimension: 'language', value: pick(LANGUAGES) },
      ];
      const tickers = new Set(Array.from({ length: Math.floor(rand() * 3) }, () => pick(TICKERS)));
      for (const t of [...tickers].sort()) groups.push({ dimension: 'ticker', value: t });
      const issuers = new Set(Array.from({ length: Math.floor(rand() * 2.5) }, () => pick(ISSUERS)));
      for (const t of [...issuers].sort()) groups.push({ dimension: 'issuer', value: t });
      const tokens = Math.floor(rand() * 600);
      out.push({
        partitionKey: `news.raw:${p}`,
        offset: i,
        obs: {
          documentId: `d-${p}-${i}`,
          offset: String(i),
          eventTimeMs,
          groups,
          label,
          pNeg,
          pPos,
          polarity: pPos - pNeg,
          confidence: Math.max(probs.negative, probs.neutral, probs.positive),
          tokens,
          unknownTokens: rand() < 0.2 ? Math.floor(rand() * 5) : 0,
          truncated: tokens > 500,
          entityTypes: issuers.size > 0 ? { ORG: issuers.size, ...(rand() < 0.3 ? { PER: 1 } : {}) } : {},
        },
      });
    }
  }
  return out;
}

/** Batches of at most `size` records per partition, in offset order, covering `records` (already in partition order). */
function toBatches(records: readonly Record_[], size: number): StatsBatch[] {
  const byPartition = new Map<string, Record_[]>();
  for (const r of records) {
    const list = byPartition.get(r.partitionKey) ?? [];
    list.push(r);
    byPartition.set(r.partitionKey, list);
  }
  const batches: StatsBatch[] = [];
  for (const [partitionKey, list] of byPartition) {
    for (let i = 0; i < list.length; i += size) {
      const chunk = list.slice(i, i + size);
      batches.push({
        partitionKey,
        lastOffset: String(chunk[chunk.length - 1]!.offset),
        observations: chunk.map((r) => r.obs),
        labels: [],
      });
    }
  }
  return batches;
}

/** Applies batches in rounds, one batch per partition per apply() call (as the pipeline would). */
async function applyInterleaved(store: RedisWindowStore, batches: StatsBatch[]): Promise<void> {
  const queues = new Map<string, StatsBatch[]>();
  for (const b of batches) queues.set(b.partitionKey, [...(queues.get(b.partitionKey) ?? []), b]);
  for (;;) {
    const round = [...queues.values()].map((q) => q.shift()).filter((b): b is StatsBatch => b !== undefined);
    if (round.length === 0) break;
    await store.apply(round);
  }
}

async function snapshot(store: RedisWindowStore, windows: number[]): Promise<unknown> {
  const out: Record<string, unknown> = { watermark: await store.watermark(), late: await store.lateCount() };
  for (const w of windows) {
    for (const dim of [ALL_DIMENSION, ...DIMENSIONS])
      out[`${dim}/${w}`] = await store.readWindow({ dimension: dim, windowMs: w });
  }
  return out;
}

/** Expected sums computed straight from the observations (independent of the store's encoding). */
function expectedGroups(
  observations: readonly StatsObservation[],
  dimension: string,
  startMs: number,
  endMs: number,
) {
  const groups = new Map<
    string,
    {
      n: number;
      labels: Record<SentimentLabel, number>;
      polarity: number;
      tokens: number;
      truncated: number;
      pNegBins: number[];
    }
  >();
  for (const o of observations) {
    if (o.eventTimeMs < startMs || o.eventTimeMs >= endMs) continue;
    for (const g of o.groups.filter((x) => x.dimension === dimension)) {
      let e = groups.get(g.value);
      if (!e)
        groups.set(
          g.value,
          (e = {
            n: 0,
            labels: { negative: 0, neutral: 0, positive: 0 },
            polarity: 0,
            tokens: 0,
            truncated: 0,
            pNegBins: new Array<number>(20).fill(0),
          }),
        );
      e.n += 1;
      e.labels[o.label] += 1;
      e.polarity += o.polarity;
      e.tokens += o.tokens;
      e.truncated += o.truncated ? 1 : 0;
      e.pNegBins[Math.min(19, Math.floor(o.pNeg * 20))]! += 1;
    }
  }
  return groups;
}

function options(prefix: string): WindowStoreOptions {
  return {
    keyPrefix: prefix,
    bucketMs: MINUTE,
    allowedLatenessMs: 5 * MINUTE,
    ttlSeconds: 3600,
    dimensions: DIMENSIONS,
  };
}

const TARGETS: Array<{ name: string; connect: () => RedisClient }> = [
  { name: 'single Redis', connect: () => new Redis(redisUrl(), { maxRetriesPerRequest: 3 }) },
  { name: 'Redis Cluster', connect: () => new Cluster(redisClusterNodes(), { scaleReads: 'master' }) },
];

describe.each(TARGETS)('window store on $name', ({ connect }) => {
  let redis: RedisClient;
  const stores: RedisWindowStore[] = [];

  function newStore(prefix: string, client: RedisClient = redis): RedisWindowStore {
    const store = new RedisWindowStore(client, options(prefix));
    stores.push(store);
    return store;
  }

  beforeAll(async () => {
    redis = connect();
    // A cluster node busy on a loaded machine can answer CLUSTERDOWN for a moment: wait for PONG.
    await waitFor(async () => (await redis.ping()) === 'PONG', 120_000, 250);
  });

  afterAll(async () => {
    for (const s of stores) await s.deleteAll();
    redis.disconnect();
  });

  it('sums buckets into windows that match the observations, for every dimension', async () => {
    const records = makeStream(1200, 4, 30, 1);
    const store = newStore(uniqueName('fs-t-sum'));
    await applyInterleaved(store, toBatches(records, 50));
    const wm = Math.max(...records.map((r) => r.obs.eventTimeMs));
    expect(await store.watermark()).toBe(wm);
    const end = windowEndFor(wm, MINUTE);
    for (const windowMs of [5 * MINUTE, 15 * MINUTE, 60 * MINUTE]) {
      for (const dim of [ALL_DIMENSION, ...DIMENSIONS]) {
        const actual = await store.readWindow({ dimension: dim, windowMs });
        const expected = expectedGroups(
          records.map((r) => r.obs),
          dim,
          end - windowMs,
          end,
        );
        expect(actual.map((g) => g.group).sort()).toEqual([...expected.keys()].sort());
        for (const g of actual) {
          const e = expected.get(g.group)!;
          expect(g.count, `${dim}=${g.group}`).toBe(e.n);
          expect(g.labelCounts).toEqual(e.labels);
          expect(Math.abs(g.polaritySum - e.polarity)).toBeLessThanOrEqual(1e-6 * e.n);
          expect(g.tokens).toBe(e.tokens);
          expect(g.truncated).toBe(e.truncated);
          expect(g.histograms.p_neg).toEqual(e.pNegBins);
          expect(g.histograms.tokens.reduce((s, x) => s + x, 0)).toBe(e.n);
        }
      }
    }
    // The 60-minute window holds every observation exactly once in `_all`.
    const all = await store.readWindow({ dimension: ALL_DIMENSION, windowMs: 60 * MINUTE });
    expect(all).toHaveLength(1);
    expect(all[0]!.count).toBe(records.length);
    // Series per bucket add up to the window.
    const series = await store.readSeries({ dimension: 'region', group: 'emea', windowMs: 15 * MINUTE });
    expect(series).toHaveLength(15);
    const window = (await store.readWindow({ dimension: 'region', windowMs: 15 * MINUTE })).find(
      (g) => g.group === 'emea',
    )!;
    expect(series.reduce((s, [, g]) => s + g.count, 0)).toBe(window.count);
    expect(series.map(([t]) => t)).toEqual(
      Array.from({ length: 15 }, (_, i) => end - 15 * MINUTE + i * MINUTE),
    );
    // Several dimensions in one read phase give the same windows as one by one.
    const multi = await store.readWindows([ALL_DIMENSION, ...DIMENSIONS], 15 * MINUTE);
    expect(multi!.endMs).toBe(end);
    for (const dim of [ALL_DIMENSION, ...DIMENSIONS])
      expect(multi!.dimensions[dim]).toEqual(
        await store.readWindow({ dimension: dim, windowMs: 15 * MINUTE }),
      );
    // Top-K by volume.
    const top = topGroupsByVolume(await store.readWindow({ dimension: 'ticker', windowMs: 60 * MINUTE }), 3);
    expect(top).toHaveLength(3);
    expect(top[0]!.count).toBeGreaterThanOrEqual(top[2]!.count);
  });

  it('counts a batch applied twice once', async () => {
    const records = makeStream(400, 2, 10, 2);
    const batches = toBatches(records, 40);
    const once = newStore(uniqueName('fs-t-once'));
    const twice = newStore(uniqueName('fs-t-twice'));
    await applyInterleaved(once, batches);
    const results: boolean[] = [];
    for (const b of batches) {
      results.push(...(await twice.apply([b])).map((r) => r.applied));
      results.push(...(await twice.apply([b])).map((r) => r.applied)); // duplicate delivery
    }
    expect(results.filter((x) => x)).toHaveLength(batches.length);
    expect(results.filter((x) => !x)).toHaveLength(batches.length);
    expect(await snapshot(twice, [10 * MINUTE, 60 * MINUTE])).toEqual(
      await snapshot(once, [10 * MINUTE, 60 * MINUTE]),
    );
  });

  it('applies only the records above the stored offset when a replayed batch straddles it', async () => {
    const records = makeStream(300, 1, 10, 3);
    const clean = newStore(uniqueName('fs-t-clean'));
    await clean.apply(toBatches(records, 300));
    const replayed = newStore(uniqueName('fs-t-straddle'));
    await replayed.apply(toBatches(records.slice(0, 100), 100));
    await replayed.apply(toBatches(records.slice(100, 200), 100));
    // Restart from an older committed offset (50) with different batch boundaries.
    const [r1] = await replayed.apply(toBatches(records.slice(50, 250), 200));
    expect(r1!.applied).toBe(true);
    const [r2] = await replayed.apply(toBatches(records.slice(150, 300), 150));
    expect(r2!.applied).toBe(true);
    expect(await snapshot(replayed, [10 * MINUTE, 60 * MINUTE])).toEqual(
      await snapshot(clean, [10 * MINUTE, 60 * MINUTE]),
    );
  });

  it('gives identical windows after a crash and a replay from an older offset (new client, new store)', async () => {
    const records = makeStream(4000, 4, 60, 4, 20_000);
    const windows = [5 * MINUTE, 15 * MINUTE, 60 * MINUTE];
    const clean = newStore(uniqueName('fs-t-clean'));
    await applyInterleaved(clean, toBatches(records, 64));

    const prefix = uniqueName('fs-t-crash');
    const first = newStore(prefix);
    const byPartition = (p: number) => records.filter((r) => r.partitionKey === `news.raw:${p}`);
    // Run 1 processes different amounts per partition with batches of 37, then "crashes".
    const run1 = [0, 1, 2, 3].flatMap((p) => byPartition(p).slice(0, 200 + p * 150));
    await applyInterleaved(first, toBatches(run1, 37));
    // Run 2 (a fresh process: new connection, empty script-registry cache) resumes from committed
    // offsets that lag what was applied, with other batch boundaries.
    const second = connect();
    try {
      const restarted = new RedisWindowStore(second, options(prefix));
      const run2 = [0, 1, 2, 3].flatMap((p) => byPartition(p).slice(Math.max(0, 200 + p * 150 - 120)));
      await applyInterleaved(restarted, toBatches(run2, 53));
      expect(await snapshot(restarted, windows)).toEqual(await snapshot(clean, windows));
    } finally {
      second.disconnect();
    }
  });

  it('gives identical windows for a stream shuffled within the allowed lateness, and excludes later events', async () => {
    const records = makeStream(2000, 2, 40, 5);
    const windows = [5 * MINUTE, 15 * MINUTE, 60 * MINUTE];
    const ordered = newStore(uniqueName('fs-t-ordered'));
    await applyInterleaved(ordered, toBatches(records, 50));
    expect(await ordered.lateCount()).toBe(0);

    // Shuffle each partition's records inside blocks spanning < 4 minutes of event time (lateness 5m),
    // then renumber offsets in arrival order, as a broker would.
    const rand = rng(99);
    const shuffled: Record_[] = [];
    for (const p of [0, 1]) {
      const list = records.filter((r) => r.partitionKey === `news.raw:${p}`);
      for (let i = 0; i < list.length;) {
        let j = i;
        while (j < list.length && list[j]!.obs.eventTimeMs - list[i]!.obs.eventTimeMs < 4 * MINUTE) j++;
        const block = list.slice(i, j);
        for (let k = block.length - 1; k > 0; k--) {
          const m = Math.floor(rand() * (k + 1));
          [block[k], block[m]] = [block[m]!, block[k]!];
        }
        shuffled.push(...block);
        i = j;
      }
    }
    const renumbered = shuffled.map((r, i, all) => {
      const offset = all.slice(0, i).filter((x) => x.partitionKey === r.partitionKey).length;
      return { ...r, offset, obs: { ...r.obs, offset: String(offset) } };
    });
    expect(renumbered.map((r) => r.obs.documentId)).not.toEqual(records.map((r) => r.obs.documentId));
    const live = newStore(uniqueName('fs-t-shuffled'));
    await applyInterleaved(live, toBatches(renumbered, 50));
    expect(await snapshot(live, windows)).toEqual(await snapshot(ordered, windows));

    // Events older than watermark − lateness arrive at the end: counted late, windows unchanged.
    const tooLate: Record_[] = [0, 1].flatMap((p) =>
      Array.from({ length: 7 + p }, (_, i) => {
        const template = records[i * 13]!.obs;
        const offset = 1000 + i;
        return {
          partitionKey: `news.raw:${p}`,
          offset,
          obs: {
            ...template,
            documentId: `late-${p}-${i}`,
            offset: String(offset),
            eventTimeMs: T0 + 35 * MINUTE - 6 * MINUTE - i * 1000,
          },
        };
      }),
    );
    const results = await live.apply(toBatches(tooLate, 100));
    expect(results.map((r) => r.late).sort()).toEqual([7, 8]);
    const withLate = (await snapshot(live, windows)) as Record<string, unknown>;
    const expected = (await snapshot(ordered, windows)) as Record<string, unknown>;
    expect(withLate.late).toBe(15);
    expect({ ...withLate, late: 0 }).toEqual(expected);
  });

  it('counts every record once when a partition moves back and forth between two processes', async () => {
    const records = makeStream(1500, 3, 30, 9, 8 * MINUTE); // jitter beyond the 5m lateness: some late
    const windows = [5 * MINUTE, 60 * MINUTE];
    const single = newStore(uniqueName('fs-t-one-writer'));
    await applyInterleaved(single, toBatches(records, 45));
    expect(await single.lateCount()).toBeGreaterThan(0);
    // Rebalances: every 3 batches the other process owns the partitions, and the previous owner
    // redelivers its last batch (uncommitted when it lost the partition).
    const prefix = uniqueName('fs-t-alternate');
    const otherClient = connect();
    try {
      const a = newStore(prefix);
      const b = new RedisWindowStore(otherClient, options(prefix));
      const batches = toBatches(records, 45);
      for (let i = 0; i < batches.length; i++) {
        const owner = Math.floor(i / 3) % 2 === 0 ? a : b;
        await owner.apply([batches[i]!]);
        if (i % 3 === 0 && i > 0) await owner.apply([batches[i - 1]!]);
      }
      expect(await snapshot(a, windows)).toEqual(await snapshot(single, windows));
    } finally {
      otherClient.disconnect();
    }
  });

  it('stores confusion matrices from labels and reads them back per group', async () => {
    const store = newStore(uniqueName('fs-t-labels'));
    const labels: LabelObservation[] = [];
    const rand = rng(6);
    const expected = new Map<string, number>();
    for (let i = 0; i < 120; i++) {
      const region = REGIONS[i % 4]!;
      const actual = SENTIMENT_LABELS[Math.floor(rand() * 3)]!;
      const predicted = rand() < 0.7 ? actual : SENTIMENT_LABELS[Math.floor(rand() * 3)]!;
      labels.push({
        documentId: `l${i}`,
        offset: String(i),
        eventTimeMs: T0 + i * 1000,
        groups: [{ dimension: 'region', value: region }],
        actual,
        predicted,
      });
      const k = `${region}/${actual}/${predicted}`;
      expected.set(k, (expected.get(k) ?? 0) + 1);
    }
    await store.apply([{ partitionKey: 'labels:0', lastOffset: '119', observations: [], labels }]);
    const window = await store.readWindow({ dimension: 'region', windowMs: 10 * MINUTE });
    expect(window).toHaveLength(4);
    for (const g of window) {
      expect(g.count).toBe(0);
      for (const a of SENTIMENT_LABELS)
        for (const p of SENTIMENT_LABELS)
          expect(g.confusion![a][p]).toBe(expected.get(`${g.group}/${a}/${p}`) ?? 0);
    }
  });

  it('captures a baseline that outlives the counters and reads it back', async () => {
    const records = makeStream(500, 2, 20, 7);
    const store = newStore(uniqueName('fs-t-baseline'));
    await applyInterleaved(store, toBatches(records, 100));
    const snap = await store.captureBaseline('nightly', 60 * MINUTE, 1234);
    expect(snap.watermarkMs).toBe(await store.watermark());
    expect(snap.dimensions[ALL_DIMENSION]![0]!.count).toBe(500);
    expect(Object.keys(snap.dimensions).sort()).toEqual([ALL_DIMENSION, ...DIMENSIONS].sort());
    const read = await store.readBaseline('nightly');
    expect(read).toEqual(snap);
    expect(await store.listBaselines()).toEqual(['nightly']);
    expect(await store.readBaseline('missing')).toBeNull();
    const key = `${store.options.keyPrefix}:baseline:nightly`;
    expect(await redis.ttl(key)).toBe(-1);
  });

  it('keeps every write of one batch in its partition slot, with TTLs, numbers and group values only', async () => {
    const records = makeStream(200, 4, 5, 8);
    const prefix = uniqueName('fs-t-keys');
    const store = newStore(prefix);
    const before = store.roundTrips;
    await store.apply(toBatches(records, 50)); // 4 batches, one per partition, one apply()
    const trips = store.roundTrips - before;
    const nodes = isCluster(redis) ? redis.nodes('master') : [redis];
    if (isCluster(redis)) {
      expect(trips).toBeGreaterThanOrEqual(1);
      expect(trips).toBeLessThanOrEqual(nodes.length);
    } else {
      expect(trips).toBe(1);
    }
    const keys: string[] = [];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, page] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        cursor = next;
        keys.push(...page);
      } while (cursor !== '0');
    }
    expect(keys.length).toBeGreaterThan(10);
    for (const key of keys.filter((k) => k.includes(':c:'))) {
      expect(key).toMatch(new RegExp(`^${prefix}:s:\\{news\\.raw:[0-3]\\}:c:\\d+:[a-z_]+$`));
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3600);
      const hash = await redis.hgetall(key);
      for (const [field, v] of Object.entries(hash)) {
        if (field === '_off' || field === '_wm') continue; // the batch that last wrote the hash (lost-state rebuild)
        expect(field).toMatch(/^[^|{}]+\|[a-z]+(:[A-Za-z0-9_]+)*$/); // "<group>|<counter>"
        expect(v).toMatch(/^-?\d+$/);
      }
    }
    expect(keys.filter((k) => k.includes(':state'))).toHaveLength(4);
    expect(histogramBin('p_neg', 1)).toBe(19);
  });
});
