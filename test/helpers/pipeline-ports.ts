// In-memory stand-ins for the ports the pipeline processor talks to (consumer batch, delivery/outputs,
// stats sink, enricher), for unit tests of its ordering and commit rules. Each one records what the
// processor did with it in one shared ledger, which checks the commit rule at every commit: an offset
// is committed only when every record at or below it has its outputs acknowledged (enriched record AND
// window-store apply, or its dead letter).
import { pino } from 'pino';
import { AvroDecoder } from '../../src/codec/decode.js';
import { InputCodec } from '../../src/codec/input.js';
import { SchemaRegistry } from '../../src/codec/registry.js';
import type { EnrichRequest, Enricher, Enrichment } from '../../src/domain/enrichment.js';
import type { StatsApplyResult, StatsBatch, StatsSink } from '../../src/domain/windows.js';
import type { PartitionBatch } from '../../src/io/kafka/consumer.js';
import type { BatchOutputs, Delivery, DeliveryMode } from '../../src/io/kafka/delivery.js';
import type { OutRecord, RawRecord } from '../../src/io/kafka/types.js';
import { readDeadLetterHeaders } from '../../src/pipeline/dlq.js';
import {
  PipelineProcessor,
  type ObservationBuilder,
  type ProcessorOptions,
} from '../../src/pipeline/processor.js';
import { AuthorPseudonymiser } from '../../src/privacy/pseudonymise.js';
import { buildObservation } from '../../src/stats/grouping.js';
import type { StoryRegistry } from '../../src/stats/shared-stories.js';
import { encodeNews, news } from './avro-producer.js';
import { TEST_MODELS, testEnrichment } from './test-enricher.js';

export const TOPICS = {
  news: 'in.news',
  chat: 'in.chat',
  labels: null,
  enriched: 'out.enriched',
  dlq: 'out.dlq',
} as const;
/** An hour after news()'s published_at: inside the future-skew limit. */
const NOW = Date.UTC(2026, 0, 5, 10, 30);

/** A promise the test settles by hand. */
export class Gate<T = void> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (err: Error) => void;
  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/** What the processor made of a batch, in the order it happened, with the commit rule checked at each commit. */
export class Ledger {
  readonly events: string[] = [];
  readonly commits: string[] = [];
  readonly violations: string[] = [];
  readonly enrichedAcked = new Set<string>();
  readonly deadLettered = new Set<string>();
  readonly statsApplied = new Set<string>();
  /** The enriched records' values by input offset. */
  readonly enrichedValues = new Map<string, Buffer>();
  /** False when no stats sink is wired: then an enriched record alone completes its offset. */
  statsWired = true;
  offsets: string[] = [];

  onCommit(lastOffset: string): void {
    const previous = this.commits[this.commits.length - 1];
    if (previous !== undefined && BigInt(lastOffset) <= BigInt(previous))
      this.violations.push(`commit ${lastOffset} after ${previous}`);
    for (const offset of this.offsets) {
      if (BigInt(offset) > BigInt(lastOffset)) break;
      const enriched = this.enrichedAcked.has(offset) && (!this.statsWired || this.statsApplied.has(offset));
      if (!enriched && !this.deadLettered.has(offset))
        this.violations.push(`commit ${lastOffset} before the outputs of offset ${offset} were acknowledged`);
    }
    this.commits.push(lastOffset);
    this.events.push(`commit ${lastOffset}`);
  }
}

/** One fetched partition batch of news records; `running`/`stale` are flipped by the test. */
export interface FakeBatch extends PartitionBatch {
  running: boolean;
  stale: boolean;
  pauses: number;
  resumes: number;
}

export function fakeBatch(values: Array<Buffer | null>, firstOffset = 100): FakeBatch {
  const records: RawRecord[] = values.map((value, i) => {
    const offset = String(firstOffset + i);
    return {
      topic: TOPICS.news,
      partition: 0,
      offset,
      key: Buffer.from(offset),
      value,
      headers: {},
      timestamp: String(NOW),
    };
  });
  const batch: FakeBatch = {
    topic: TOPICS.news,
    partition: 0,
    records,
    highWatermark: String(firstOffset + values.length),
    running: true,
    stale: false,
    pauses: 0,
    resumes: 0,
    heartbeat: () => Promise.resolve(),
    pause: () => {
      batch.pauses++;
      return () => void batch.resumes++;
    },
    isRunning: () => batch.running,
    isStale: () => batch.stale,
    commit: () => Promise.reject(new Error('the processor commits through its BatchOutputs')),
    resolve: () => {},
  };
  return batch;
}

/** `n` valid news records, the ones at `bad` replaced by bytes that are not Avro. */
export function newsValues(n: number, bad: readonly number[] = []): Array<Buffer | null> {
  return Array.from({ length: n }, (_, i) =>
    bad.includes(i) ? Buffer.from('\u0000not avro at all') : encodeNews(news(`doc-${i}`)),
  );
}

/** Outputs that acknowledge through `hold` (return a promise to delay or fail a send or commit). */
export class FakeDelivery implements Delivery {
  hold: (what: { topic: string } | { commit: string }) => Promise<void> | void = () => {};

  constructor(
    private readonly ledger: Ledger,
    readonly mode: DeliveryMode = 'at-least-once',
  ) {}

  connect(): Promise<void> {
    return Promise.resolve();
  }

  begin(): Promise<BatchOutputs> {
    return Promise.resolve({
      committedOffset: null,
      send: async (batches) => {
        for (const { topic, records } of batches) {
          await this.hold({ topic });
          for (const record of records) this.acknowledge(topic, record);
        }
      },
      commit: async (lastOffset) => {
        await this.hold({ commit: lastOffset });
        this.ledger.onCommit(lastOffset);
      },
      close: () => Promise.resolve(),
    });
  }

  private acknowledge(topic: string, record: OutRecord): void {
    if (topic === TOPICS.enriched) {
      const offset = String(record.key);
      this.ledger.enrichedAcked.add(offset);
      if (record.value) this.ledger.enrichedValues.set(offset, record.value);
      this.ledger.events.push(`enriched ${offset}`);
    } else {
      const offset = readDeadLetterHeaders(record.headers).offset!;
      this.ledger.deadLettered.add(offset);
      this.ledger.events.push(`dlq ${offset}`);
    }
  }

  assigned(): void {}

  disconnect(): Promise<void> {
    return Promise.resolve();
  }
}

/** A window store that records applied offsets; `hold` may delay or fail an apply. */
export class FakeStatsSink implements StatsSink {
  readonly applied: StatsBatch[] = [];
  attempts = 0;
  hold: (batch: StatsBatch) => Promise<void> | void = () => {};

  constructor(private readonly ledger: Ledger) {}

  async apply(batches: StatsBatch[]): Promise<StatsApplyResult[]> {
    this.attempts++;
    for (const batch of batches) await this.hold(batch);
    for (const batch of batches) {
      this.applied.push(batch);
      for (const o of batch.observations) this.ledger.statsApplied.add(o.offset!);
      this.ledger.events.push(`stats ${batch.lastOffset}`);
    }
    return batches.map(() => ({ applied: true, late: 0, watermarkMs: 0 }));
  }
}

/** An enricher whose calls the test answers: immediately (default) or by hand (`held`). */
export class FakeEnricher implements Enricher {
  readonly models = TEST_MODELS;
  held = false;
  readonly calls: Array<{ requests: EnrichRequest[]; gate: Gate }> = [];

  async enrich(requests: EnrichRequest[]): Promise<Enrichment[]> {
    const gate = new Gate();
    this.calls.push({ requests, gate });
    if (this.held) await gate.promise;
    return requests.map((r) => testEnrichment(r.text));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export interface Harness {
  processor: PipelineProcessor;
  ledger: Ledger;
  delivery: FakeDelivery;
  stats: FakeStatsSink;
  enricher: FakeEnricher;
  /** Runs the eachBatch handler; tracks the batch's offsets in the ledger. */
  handle(batch: FakeBatch): Promise<void>;
}

export function harness(
  options: {
    batching?: Partial<ProcessorOptions['batching']>;
    mode?: DeliveryMode;
    withStats?: boolean;
    beforeCommit?: () => void;
    /** The observation builder (default: grouping only, no story ids) and the shared story index. */
    buildObservation?: ObservationBuilder;
    stories?: StoryRegistry;
  } = {},
): Harness {
  const ledger = new Ledger();
  ledger.statsWired = options.withStats ?? true;
  const delivery = new FakeDelivery(ledger, options.mode);
  const stats = new FakeStatsSink(ledger);
  const enricher = new FakeEnricher();
  const registry = new SchemaRegistry();
  const decoder = new AvroDecoder({ registry, wireFormat: 'plain', maxMessageBytes: 100_000 });
  const codec = new InputCodec(
    decoder,
    new AuthorPseudonymiser('unit-test-author-key-000000000'),
    { maxTextChars: 10_000, maxFutureSkewMs: 3_600_000 },
    () => NOW,
  );
  const processor = new PipelineProcessor(
    {
      groupId: 'unit',
      topics: TOPICS,
      batching: { maxBatchSize: 2, maxInFlightBatches: 3, maxQueuedDocuments: 1_000, ...options.batching },
      maxEntitiesPerDocument: 16,
      pipelineVersion: 'test',
      backoff: { initialMs: 1, maxMs: 2 },
    },
    {
      codec,
      registry,
      enricher,
      delivery,
      stats: ledger.statsWired ? stats : null,
      buildObservation:
        options.buildObservation ?? ((doc, enrichment) => buildObservation(doc, enrichment, [])),
      ...(options.stories ? { stories: options.stories } : {}),
      labels: null,
      logger: pino({ level: 'silent' }),
      clock: () => NOW,
      ...(options.beforeCommit ? { hooks: { beforeCommit: options.beforeCommit } } : {}),
    },
  );
  return {
    processor,
    ledger,
    delivery,
    stats,
    enricher,
    handle: (batch) => {
      ledger.offsets = batch.records.map((r) => r.offset);
      return processor.handleBatch(batch);
    },
  };
}
