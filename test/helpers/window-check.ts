// "The Redis windows equal a clean single pass exactly": the reference is built by decoding every
// input record read back from the broker with the product codec, pairing each accepted document with
// its enrichment (the first enriched record of that input, or one computed again by an Enricher),
// building the observation with the product grouping and applying all of them, partition by
// partition in offset order, to a fresh key prefix — once, with no fault. The faulty run's Redis
// state must then equal it counter for counter (every bucket hash of every partition shard, plus
// each partition's watermark and late count; the stored offset is left out because it depends on
// where micro-batches were cut).
import type { Redis } from 'ioredis';
import { AvroDecoder } from '../../src/codec/decode.js';
import { InputCodec } from '../../src/codec/input.js';
import type { EnrichedDocumentRecord } from '../../src/codec/records.js';
import { schemaRegistryFromConfig } from '../../src/app/schema-registry.js';
import type { FinsentryConfig } from '../../src/config/schema.js';
import type { InputDocument } from '../../src/domain/documents.js';
import type { DocumentLanguage, Enricher, Enrichment, UnscoredReason } from '../../src/domain/enrichment.js';
import type { StatsObservation } from '../../src/domain/observation.js';
import type { StatsBatch } from '../../src/domain/windows.js';
import type { RawRecord } from '../../src/io/kafka/types.js';
import { RedisWindowStore, windowStoreOptions } from '../../src/io/redis/window-store.js';
import { AuthorPseudonymiser } from '../../src/privacy/pseudonymise.js';
import { buildObservation } from '../../src/stats/grouping.js';
import type { Ledger } from './ledger.js';

/** The processor's codec, built from the same config as src/app/pipeline.ts builds it. */
export function productCodec(config: FinsentryConfig, authorKey: string): InputCodec {
  const registry = schemaRegistryFromConfig(config.codec);
  const decoder = new AvroDecoder({
    registry,
    wireFormat: config.codec.wireFormat,
    maxMessageBytes: config.limits.maxMessageBytes,
  });
  return new InputCodec(decoder, new AuthorPseudonymiser(authorKey), {
    maxTextChars: config.limits.maxTextChars,
    maxFutureSkewMs: config.limits.maxFutureSkew,
  });
}

/** The Enrichment an enriched record carries (lossless up to limits.maxEntitiesPerDocument). */
export function enrichmentOf(record: EnrichedDocumentRecord): Enrichment {
  const s = record.sentiment;
  const entities = record.entities.map((e) => ({ ...e }));
  const models = record.models.map((m) => ({ ...m }));
  const routing = record.language_routing;
  const language = routing
    ? { language: routing.language, source: routing.source as DocumentLanguage['source'] }
    : undefined;
  if (s === null)
    return { entities, models, language: language!, unscored: record.unscored_reason as UnscoredReason };
  return {
    sentiment: {
      label: s.label,
      probabilities: { ...s.probabilities },
      polarity: s.polarity,
      confidence: s.confidence,
      windows: s.windows,
      truncated: s.truncated,
      tokens: s.tokens,
      unknownTokens: s.unknown_tokens,
    },
    entities,
    models,
    ...(language ? { language } : {}),
  };
}

export interface CleanPassResult {
  /** Inputs the codec accepts (each must have been enriched). */
  accepted: number;
  /** Inputs the codec rejects (each must be on the DLQ). */
  rejected: number;
  /** Accepted inputs with no enriched record (losses; the ledger reports them too). */
  missing: number;
  /** Accepted inputs whose enriched `groups` differ from the groups computed here. */
  groupMismatches: number;
  /** Decoded documents per input coordinates, for tests that look further. */
  documents: Map<string, InputDocument>;
}

export interface CleanPassOptions {
  config: FinsentryConfig;
  authorKey: string;
  /** Key prefix of the reference windows (must be fresh). */
  prefix: string;
  /** When given, enrichments are computed again with it instead of read from the enriched records. */
  enricher?: Enricher;
}

/** Applies the reference pass to `prefix`; see the file comment. */
export async function applyCleanPass(
  redis: Redis,
  ledger: Ledger,
  options: CleanPassOptions,
): Promise<CleanPassResult> {
  const { config } = options;
  const codec = productCodec(config, options.authorKey);
  const result: CleanPassResult = {
    accepted: 0,
    rejected: 0,
    missing: 0,
    groupMismatches: 0,
    documents: new Map(),
  };
  const byPartition = new Map<
    string,
    Array<{ record: RawRecord; doc: InputDocument; output: EnrichedDocumentRecord | undefined }>
  >();
  const sorted = [...ledger.inputs].sort((a, b) =>
    a.topic < b.topic
      ? -1
      : a.topic > b.topic
        ? 1
        : a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
  );
  for (const record of sorted) {
    const kind = record.topic === config.kafka.topics.chat ? 'chat' : 'news';
    const decoded = codec.document(record, kind);
    if (!decoded.ok) {
      result.rejected++;
      continue;
    }
    result.accepted++;
    const output = ledger.enrichedOf(record);
    if (!output && !options.enricher) {
      result.missing++;
      continue;
    }
    result.documents.set(`${record.topic}:${record.partition}:${record.offset}`, decoded.value);
    const partitionKey = `${record.topic}:${record.partition}`;
    const list = byPartition.get(partitionKey);
    const item = { record, doc: decoded.value, output };
    if (list) list.push(item);
    else byPartition.set(partitionKey, [item]);
  }

  const store = new RedisWindowStore(redis, windowStoreOptions(config, options.prefix));
  const dimensions = config.stats.dimensions;
  for (const [partitionKey, items] of byPartition) {
    for (let i = 0; i < items.length; i += 500) {
      const chunk = items.slice(i, i + 500);
      const enrichments = options.enricher
        ? await options.enricher.enrich(chunk.map(({ doc }) => ({ id: doc.id, text: doc.text })))
        : chunk.map(({ output }) => enrichmentOf(output!));
      const observations: StatsObservation[] = chunk.flatMap(({ doc, output }, j) => {
        // An unscored document (a language no model reads) is on the enriched topic with no groups.
        const observation = buildObservation(doc, enrichments[j]!, dimensions);
        if (output && JSON.stringify(output.groups) !== JSON.stringify(observation?.groups ?? []))
          result.groupMismatches++;
        return observation ? [observation] : [];
      });
      const batch: StatsBatch = {
        partitionKey,
        lastOffset: chunk[chunk.length - 1]!.record.offset,
        observations,
        labels: [],
      };
      await store.apply([batch]);
    }
  }
  return result;
}

/** Every window counter under a prefix: hash key (prefix removed) → field → value. */
export async function windowState(
  redis: Redis,
  prefix: string,
): Promise<Map<string, Record<string, string>>> {
  const state = new Map<string, Record<string, string>>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:s:*`, 'COUNT', 1000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const key of keys) {
      if (key.endsWith(':state')) pipeline.hmget(key, 'wm', 'late');
      else pipeline.hgetall(key);
    }
    const replies = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const [err, value] = replies[i]!;
      if (err) throw err;
      const relative = key.slice(prefix.length);
      if (key.endsWith(':state')) {
        const [wm, late] = value as Array<string | null>;
        state.set(relative, { wm: wm ?? '', late: late ?? '0' });
      } else {
        // `_off`/`_wm` (the batch that last wrote the hash) depend on micro-batch boundaries, not on what is counted.
        const { _off: _offset, _wm: _clock, ...counters } = value as Record<string, string>;
        state.set(relative, counters);
      }
    });
  } while (cursor !== '0');
  return state;
}

export interface WindowComparison {
  /** Hashes compared (bucket × dimension × partition shards, plus one state hash per partition). */
  hashes: number;
  /** Counter fields compared. */
  fields: number;
  /** Documents counted in the `_all` dimension over every bucket (a sanity figure for the report). */
  documents: number;
  /** Differences, at most 20 described. */
  differences: string[];
  differenceCount: number;
}

/** Compares the faulty run's windows (`actual`) with the reference (`expected`) exactly. */
export async function compareWindows(
  redis: Redis,
  actualPrefix: string,
  expectedPrefix: string,
): Promise<WindowComparison> {
  const [actual, expected] = await Promise.all([
    windowState(redis, actualPrefix),
    windowState(redis, expectedPrefix),
  ]);
  const out: WindowComparison = { hashes: 0, fields: 0, documents: 0, differences: [], differenceCount: 0 };
  const differ = (text: string): void => {
    out.differenceCount++;
    if (out.differences.length < 20) out.differences.push(text);
  };
  for (const key of new Set([...actual.keys(), ...expected.keys()])) {
    const a = actual.get(key);
    const e = expected.get(key);
    out.hashes++;
    if (!a || !e) {
      differ(`${key}: only in the ${a ? 'faulty run' : 'clean pass'}`);
      continue;
    }
    for (const field of new Set([...Object.keys(a), ...Object.keys(e)])) {
      out.fields++;
      if (a[field] !== e[field])
        differ(`${key} ${field}: faulty ${String(a[field])} vs clean ${String(e[field])}`);
    }
    if (/:c:\d+:_all$/.test(key))
      out.documents += Object.entries(e)
        .filter(([f]) => f.endsWith('|n'))
        .reduce((n, [, v]) => n + Number(v), 0);
  }
  return out;
}

/** Deletes every key under the prefixes (afterAll). */
export async function deletePrefixes(redis: Redis, prefixes: readonly string[]): Promise<void> {
  for (const prefix of prefixes) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  }
}
