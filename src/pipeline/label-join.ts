import type { InputLabel } from '../codec/validate.js';
import type { SentimentLabel } from '../domain/enrichment.js';
import { createHash } from 'node:crypto';
import type { DocumentKind } from '../domain/documents.js';
import type { GroupRef, StatsObservation } from '../domain/observation.js';
import type { RedisClient } from '../io/redis/client.js';
import type { JoinedLabel, LabelApplyCounts } from '../domain/windows.js';
import { labelWithinGrace } from '../stats/event-time.js';
import type { Logger } from '../telemetry/logger.js';
import type { LabelSink } from './label-sink.js';

/**
 * Delayed human labels (design §2, §5, docs/guarantees.md#labels) are a stream of their own, joined to
 * the model's prediction of the same document so that the window store can count confusion matrices
 * per group. The pipeline remembers, for every enriched document, its predicted label, groups and
 * event time — numbers and group values only, no text — under `{prefix}:pred:<document key>`, where
 * the document key hashes (kind, id): news and chat ids never collide, and no raw id (nor a `{` that
 * would pick a Cluster slot) becomes a key. The entry lives max(window store retention, label grace
 * period). Writes are done before the document's offset is committed, so a label that arrives after
 * the commit always finds it.
 *
 * A label is counted in the bucket of its DOCUMENT's event time however late it comes, if it comes
 * within stats.labelGracePeriod of it (else `expired`); one label per document, a relabel replacing
 * the previous one (src/io/redis/label-store.ts). Labels take no part in any watermark. A label whose
 * prediction is unknown (never processed, expired, the label arrived first, or an id that is both a
 * news and a chat id and the label names no kind) is `unmatched`: counted and logged, not retried —
 * the labels topic must not block on missing data.
 */
export interface PredictionEntry {
  predicted: SentimentLabel;
  groups: GroupRef[];
  eventTimeMs: number;
}

export interface PredictionIndex {
  remember(observations: readonly StatsObservation[]): Promise<void>;
  /** Predictions by (kind, document id); kind undefined tries news and chat. */
  lookup(refs: ReadonlyArray<{ kind?: DocumentKind; documentId: string }>): Promise<LookupResult[]>;
}

export type LookupResult =
  | { found: true; documentKey: string; entry: PredictionEntry }
  | { found: false; why: 'unknown' | 'ambiguous' };

/** Where applied labels are counted (src/io/redis/label-store.ts). */
export interface LabelCounter {
  apply(labels: readonly JoinedLabel[]): Promise<LabelApplyCounts>;
}

export type LabelOutcome = keyof LabelApplyCounts | 'unmatched' | 'expired';

/** Metrics of the join (finsentry_labels_total{outcome}). */
export interface LabelJoinObserver {
  labelOutcomes(counts: Partial<Record<LabelOutcome, number>>): void;
}

const LABEL_CODES: Record<SentimentLabel, 'n' | 'u' | 'p'> = { negative: 'n', neutral: 'u', positive: 'p' };
const CODE_LABELS: Record<string, SentimentLabel> = { n: 'negative', u: 'neutral', p: 'positive' };
const KINDS: readonly DocumentKind[] = ['news', 'chat'];

/** Hash of (kind, document id): the id as it may appear in a Redis key (hex, 128 bits). */
export function documentKey(kind: DocumentKind, documentId: string): string {
  return createHash('sha256').update(`${kind}\n${documentId}`).digest('hex').slice(0, 32);
}

function parseEntry(value: string | null): PredictionEntry | null {
  if (!value) return null;
  try {
    const parsed = JSON.parse(value) as { p: string; g: Array<[string, string]>; t: number };
    const predicted = CODE_LABELS[parsed.p];
    if (!predicted || !Array.isArray(parsed.g) || !Number.isFinite(parsed.t)) return null;
    return {
      predicted,
      groups: parsed.g.map(([dimension, value]) => ({ dimension, value })),
      eventTimeMs: parsed.t,
    };
  } catch {
    return null; // an unreadable entry is treated as missing
  }
}

export class RedisPredictionIndex implements PredictionIndex {
  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly ttlSeconds: number,
  ) {}

  private key(docKey: string): string {
    return `${this.keyPrefix}:pred:${docKey}`;
  }

  async remember(observations: readonly StatsObservation[]): Promise<void> {
    // One command per key (keys spread over Cluster slots); ioredis sends them in one write per node.
    await Promise.all(
      observations.map((o) =>
        this.redis.set(
          this.key(documentKey(o.kind ?? 'news', o.documentId)),
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

  async lookup(refs: ReadonlyArray<{ kind?: DocumentKind; documentId: string }>): Promise<LookupResult[]> {
    const candidates = refs.map((r) => (r.kind ? [r.kind] : KINDS).map((k) => documentKey(k, r.documentId)));
    const unique = [...new Set(candidates.flat())];
    const values = await Promise.all(unique.map((k) => this.redis.get(this.key(k))));
    const entries = new Map(unique.map((k, i) => [k, parseEntry(values[i] ?? null)]));
    return candidates.map((keys) => {
      const hits = keys.filter((k) => entries.get(k));
      if (hits.length === 1) return { found: true, documentKey: hits[0]!, entry: entries.get(hits[0]!)! };
      return { found: false, why: hits.length === 0 ? 'unknown' : 'ambiguous' };
    });
  }
}

/** LabelSink that joins labels to remembered predictions and counts them (design §5). */
export class LabelJoinSink implements LabelSink {
  unmatched = 0;
  matched = 0;
  expired = 0;

  constructor(
    private readonly predictions: PredictionIndex,
    private readonly counter: LabelCounter,
    private readonly logger: Logger,
    private readonly options: { graceMs: number; observer?: LabelJoinObserver },
  ) {}

  async accept(labels: InputLabel[]): Promise<void> {
    if (labels.length === 0) return;
    const found = await this.predictions.lookup(
      labels.map((l) => ({ documentId: l.documentId, ...(l.documentKind ? { kind: l.documentKind } : {}) })),
    );
    const joined: JoinedLabel[] = [];
    let unmatched = 0;
    let expired = 0;
    labels.forEach((label, i) => {
      const result = found[i]!;
      if (!result.found) {
        unmatched++;
        this.logger.warn(
          { offset: label.position.offset, partition: label.position.partition, why: result.why },
          'label for a document without a remembered prediction; not counted',
        );
        return;
      }
      const { entry } = result;
      if (!labelWithinGrace(entry.eventTimeMs, label.labelledAtMs, this.options.graceMs)) {
        expired++;
        return;
      }
      joined.push({
        documentKey: result.documentKey,
        // The prediction's event time is authoritative: the label is counted in the document's own bucket.
        documentEventTimeMs: entry.eventTimeMs,
        groups: entry.groups,
        predicted: entry.predicted,
        actual: label.label,
        labelledAtMs: label.labelledAtMs,
      });
    });
    const applied = await this.counter.apply(joined);
    this.unmatched += unmatched;
    this.expired += expired;
    this.matched += joined.length;
    this.options.observer?.labelOutcomes({ ...applied, unmatched, expired });
  }
}
