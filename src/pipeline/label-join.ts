import type { InputLabel } from '../codec/validate.js';
import type { SentimentLabel } from '../domain/enrichment.js';
import type { GroupRef, LabelObservation, StatsObservation } from '../domain/observation.js';
import type { StatsBatch, StatsSink } from '../domain/windows.js';
import type { RedisClient } from '../io/redis/client.js';
import type { Logger } from '../telemetry/logger.js';
import type { LabelSink } from './label-sink.js';

/**
 * Delayed human labels (design §2, §5) are joined to the model's prediction of the same document so
 * that the window store can count confusion matrices per group. The pipeline remembers, for every
 * enriched document, its predicted label, groups and event time — numbers and group values only, no
 * text — under `{prefix}:pred:{document id}` with a TTL (the window store's retention: a label for a
 * document whose windows have expired has nothing left to count in). Writes are done before the
 * document's offset is committed, so a label that arrives after the commit always finds it.
 *
 * A label whose prediction is unknown (never processed, expired, or the label arrived first) is
 * counted in `unmatched` and logged, not retried: the labels topic must not block on missing data.
 */
export interface PredictionEntry {
  predicted: SentimentLabel;
  groups: GroupRef[];
  eventTimeMs: number;
}

export interface PredictionIndex {
  remember(observations: readonly StatsObservation[]): Promise<void>;
  lookup(documentIds: readonly string[]): Promise<Map<string, PredictionEntry>>;
}

const LABEL_CODES: Record<SentimentLabel, 'n' | 'u' | 'p'> = { negative: 'n', neutral: 'u', positive: 'p' };
const CODE_LABELS: Record<string, SentimentLabel> = { n: 'negative', u: 'neutral', p: 'positive' };

export class RedisPredictionIndex implements PredictionIndex {
  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly ttlSeconds: number,
  ) {}

  private key(documentId: string): string {
    return `${this.keyPrefix}:pred:${documentId}`;
  }

  async remember(observations: readonly StatsObservation[]): Promise<void> {
    // One command per key (keys spread over Cluster slots); ioredis sends them in one write per node.
    await Promise.all(
      observations.map((o) =>
        this.redis.set(
          this.key(o.documentId),
          JSON.stringify({
            p: LABEL_CODES[o.label],
            g: o.groups.map((g) => [g.dimension, g.value]),
            t: o.eventTimeMs,
          }),
          'EX',
          this.ttlSeconds,
        ),
      ),
    );
  }

  async lookup(documentIds: readonly string[]): Promise<Map<string, PredictionEntry>> {
    const unique = [...new Set(documentIds)];
    const values = await Promise.all(unique.map((id) => this.redis.get(this.key(id))));
    const out = new Map<string, PredictionEntry>();
    unique.forEach((id, i) => {
      const value = values[i];
      if (!value) return;
      try {
        const parsed = JSON.parse(value) as { p: string; g: Array<[string, string]>; t: number };
        const predicted = CODE_LABELS[parsed.p];
        if (!predicted || !Array.isArray(parsed.g) || !Number.isFinite(parsed.t)) return;
        out.set(id, {
          predicted,
          groups: parsed.g.map(([dimension, value]) => ({ dimension, value })),
          eventTimeMs: parsed.t,
        });
      } catch {
        // An unreadable entry is treated as missing.
      }
    });
    return out;
  }
}

/** LabelSink that joins labels to remembered predictions and applies them to the window store, per labels partition. */
export class LabelJoinSink implements LabelSink {
  unmatched = 0;
  matched = 0;

  constructor(
    private readonly predictions: PredictionIndex,
    private readonly stats: StatsSink,
    private readonly logger: Logger,
  ) {}

  async accept(labels: InputLabel[]): Promise<void> {
    if (labels.length === 0) return;
    const found = await this.predictions.lookup(labels.map((l) => l.documentId));
    const byPartition = new Map<string, { lastOffset: bigint; labels: LabelObservation[] }>();
    for (const label of labels) {
      const partitionKey = `${label.position.topic}:${label.position.partition}`;
      const entry = byPartition.get(partitionKey) ?? { lastOffset: -1n, labels: [] };
      const offset = BigInt(label.position.offset);
      if (offset > entry.lastOffset) entry.lastOffset = offset;
      byPartition.set(partitionKey, entry);
      const prediction = found.get(label.documentId);
      if (!prediction) {
        this.unmatched++;
        this.logger.warn(
          { documentId: label.documentId, offset: label.position.offset },
          'label for a document without a remembered prediction; not counted',
        );
        continue;
      }
      this.matched++;
      entry.labels.push({
        documentId: label.documentId,
        offset: label.position.offset,
        // The prediction's event time is authoritative: the label is counted in the document's own bucket.
        eventTimeMs: prediction.eventTimeMs,
        groups: prediction.groups,
        predicted: prediction.predicted,
        actual: label.label,
      });
    }
    const batches: StatsBatch[] = [...byPartition].map(([partitionKey, e]) => ({
      partitionKey,
      lastOffset: e.lastOffset.toString(),
      observations: [],
      labels: e.labels,
    }));
    await this.stats.apply(batches);
  }
}
