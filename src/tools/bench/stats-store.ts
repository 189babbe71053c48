import { SENTIMENT_LABELS, type SentimentLabel } from '../../domain/enrichment.js';
import type { GroupRef, StatsObservation } from '../../domain/observation.js';
import type { StatsBatch } from '../../domain/windows.js';
import { isCluster, type RedisClient } from '../../io/redis/client.js';
import { RedisWindowStore } from '../../io/redis/window-store.js';
import { ALL_DIMENSION } from '../../stats/grouping.js';

/**
 * Throughput of the statistics stage alone: synthetic observations with a realistic group fan-out
 * (7 configured dimensions + `_all`: kind, source, region, language, sector, 0–3 tickers, 0–2 issuers
 * → about 9 groups per document) applied to Redis through RedisWindowStore, one process, one
 * sequential stream of batches per input partition (as the pipeline does), all partitions concurrently.
 * Reports documents/s into Redis, round trips per apply() (counted by the store) and the server-side
 * commands per apply() (from INFO commandstats), for a single Redis or a cluster.
 */

export interface StatsBenchOptions {
  redis: RedisClient;
  keyPrefix: string;
  documents: number;
  batchSize: number;
  partitions: number;
  /** Event-time rate of the synthetic stream (documents per event-time minute), default 2000. */
  docsPerEventMinute?: number;
  seed?: number;
  /** Delete the bench keys afterwards (default true). */
  cleanup?: boolean;
}

export interface StatsBenchResult {
  target: 'single' | 'cluster';
  documents: number;
  batches: number;
  applyCalls: number;
  seconds: number;
  documentsPerSecond: number;
  roundTrips: number;
  roundTripsPerApply: number;
  groupsPerDocument: number;
  /** Redis commands executed per apply() (server-side INFO commandstats, including the script's own calls). */
  serverCommandsPerApply: number | null;
  /** Redis CPU time inside the apply script per apply() (INFO commandstats usec of EVALSHA/EVAL), µs. */
  serverMicrosPerApply: number | null;
  /** This process's CPU time per apply() (encoding, pre-aggregation, client), µs. */
  clientMicrosPerApply: number;
}

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

const SOURCES = ['reuters', 'bloomberg', 'dow jones', 'ft', 'wsj', 'cnbc', 'stocktwits', 'reddit'];
const REGIONS = ['emea', 'amer', 'apac', 'latam', 'unknown'];
const LANGUAGES = ['en', 'de', 'fr', 'es', 'ja'];
const SECTORS = ['tech', 'financials', 'energy', 'health', 'industrials', 'consumer'];

/** Synthetic observations for benchmarks: deterministic, Zipf-ish tickers/issuers from a pool of 500. */
export function syntheticObservations(
  count: number,
  partition: number,
  opts: { seed?: number; startMs?: number; docsPerEventMinute?: number } = {},
): StatsObservation[] {
  const rand = rng((opts.seed ?? 1) * 7919 + partition);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const zipf = (n: number) => Math.floor(n * rand() ** 3);
  const start = opts.startMs ?? 1_767_225_600_000;
  const spacing = 60_000 / (opts.docsPerEventMinute ?? 2000);
  const out: StatsObservation[] = [];
  for (let i = 0; i < count; i++) {
    const pNeg = rand();
    const pPos = (1 - pNeg) * rand();
    const probs: Record<SentimentLabel, number> = {
      negative: pNeg,
      neutral: 1 - pNeg - pPos,
      positive: pPos,
    };
    const label = SENTIMENT_LABELS.reduce((a, b) => (probs[b] > probs[a] ? b : a));
    const groups: GroupRef[] = [
      { dimension: ALL_DIMENSION, value: 'all' },
      { dimension: 'kind', value: rand() < 0.6 ? 'news' : 'chat' },
      { dimension: 'source', value: pick(SOURCES) },
      { dimension: 'region', value: pick(REGIONS) },
      { dimension: 'language', value: pick(LANGUAGES) },
      { dimension: 'sector', value: pick(SECTORS) },
    ];
    const tickers = new Set(Array.from({ length: Math.floor(rand() * 4) }, () => `T${zipf(500)}`));
    for (const t of [...tickers].sort()) groups.push({ dimension: 'ticker', value: t });
    const issuers = new Set(Array.from({ length: Math.floor(rand() * 3) }, () => `issuer ${zipf(500)}`));
    for (const t of [...issuers].sort()) groups.push({ dimension: 'issuer', value: t });
    const tokens = Math.floor(20 + rand() * 400);
    out.push({
      documentId: `bench-${partition}-${i}`,
      offset: String(i),
      eventTimeMs: Math.floor(start + i * spacing * 1 + rand() * 5_000),
      groups,
      label,
      pNeg,
      pPos,
      polarity: pPos - pNeg,
      confidence: Math.max(probs.negative, probs.neutral, probs.positive),
      tokens,
      unknownTokens: rand() < 0.1 ? 1 : 0,
      truncated: tokens > 380,
      entityTypes: issuers.size ? { ORG: issuers.size } : {},
    });
  }
  return out;
}

async function commandStats(redis: RedisClient): Promise<{ calls: number; scriptMicros: number } | null> {
  try {
    const nodes = isCluster(redis) ? redis.nodes('master') : [redis];
    let calls = 0;
    let scriptMicros = 0;
    for (const node of nodes) {
      const info = await node.info('commandstats');
      for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)) {
        if (m[1] !== 'info') calls += Number(m[2]);
        if (m[1] === 'evalsha' || m[1] === 'eval') scriptMicros += Number(m[3]);
      }
    }
    return { calls, scriptMicros };
  } catch {
    return null; // INFO may be forbidden by ACLs
  }
}

export async function runStatsBench(opts: StatsBenchOptions): Promise<StatsBenchResult> {
  const store = new RedisWindowStore(opts.redis, {
    keyPrefix: opts.keyPrefix,
    bucketMs: 60_000,
    allowedLatenessMs: 300_000,
    ttlSeconds: 3600,
    dimensions: ['kind', 'source', 'region', 'language', 'sector', 'ticker', 'issuer'],
  });
  const perPartition = Math.ceil(opts.documents / opts.partitions);
  const streams: StatsBatch[][] = [];
  let groups = 0;
  let docs = 0;
  for (let p = 0; p < opts.partitions; p++) {
    const obs = syntheticObservations(Math.min(perPartition, opts.documents - docs), p, {
      seed: opts.seed,
      docsPerEventMinute: opts.docsPerEventMinute,
    });
    docs += obs.length;
    groups += obs.reduce((s, o) => s + o.groups.length, 0);
    const batches: StatsBatch[] = [];
    for (let i = 0; i < obs.length; i += opts.batchSize) {
      const chunk = obs.slice(i, i + opts.batchSize);
      batches.push({
        partitionKey: `bench:${p}`,
        lastOffset: chunk[chunk.length - 1]!.offset!,
        observations: chunk,
        labels: [],
      });
    }
    streams.push(batches);
  }
  // Warm-up: load the script and register the partitions (not timed).
  await store.apply([{ partitionKey: 'bench:warmup', lastOffset: '0', observations: [], labels: [] }]);
  const commandsBefore = await commandStats(opts.redis);
  const tripsBefore = store.roundTrips;
  const callsBefore = store.applyCalls;
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  await Promise.all(
    streams.map(async (batches) => {
      for (const b of batches) await store.apply([b]);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const commandsAfter = await commandStats(opts.redis);
  const applyCalls = store.applyCalls - callsBefore;
  const roundTrips = store.roundTrips - tripsBefore;
  if (opts.cleanup !== false) await store.deleteAll();
  return {
    target: isCluster(opts.redis) ? 'cluster' : 'single',
    documents: docs,
    batches: streams.reduce((s, b) => s + b.length, 0),
    applyCalls,
    seconds,
    documentsPerSecond: docs / seconds,
    roundTrips,
    roundTripsPerApply: roundTrips / applyCalls,
    groupsPerDocument: groups / docs,
    // The two INFO calls themselves are excluded; other clients' commands on a shared Redis would inflate this.
    serverCommandsPerApply:
      commandsBefore && commandsAfter ? (commandsAfter.calls - commandsBefore.calls) / applyCalls : null,
    serverMicrosPerApply:
      commandsBefore && commandsAfter
        ? (commandsAfter.scriptMicros - commandsBefore.scriptMicros) / applyCalls
        : null,
    clientMicrosPerApply: (cpu.user + cpu.system) / applyCalls,
  };
}
