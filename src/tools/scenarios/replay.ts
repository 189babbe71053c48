import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { RecordSink } from '../../io/kafka/producer.js';
import type { DocumentTruth, GroundTruth, ScenarioTopic } from './ground-truth.js';
import type { ReplayMessage } from './recorded.js';
import { systemClock, TokenBucket, type Clock } from './token-bucket.js';

/**
 * The producing side of `finsentry replay`: takes messages (generated or recorded), batches them and
 * sends them through the idempotent producer at a wall-clock rate bounded by a token bucket.
 */
export interface ReplayOptions {
  /** Kafka topic per logical topic; labels may be null when no message is a label. */
  topics: Record<'news' | 'chat', string> & { labels: string | null };
  /** Wall-clock messages per second; null = as fast as the broker takes them. */
  ratePerSecond: number | null;
  /** Largest batch per send (smaller at low rates so that sends stay smooth, ~20 per second). */
  maxBatch: number;
  onProgress?: (p: ReplayProgress) => void;
  progressEveryMs?: number;
  signal?: AbortSignal;
  clock?: Clock;
}

export interface ReplayProgress {
  sent: number;
  byTopic: Record<ScenarioTopic, number>;
  elapsedMs: number;
  /** Messages per wall-clock second since the start. */
  rate: number;
  /** Event time of the last message sent (when messages carry one). */
  eventTimeMs: number | null;
  firstEventTimeMs: number | null;
  /** Event time advanced per wall time so far (the effective speedup). */
  speedup: number | null;
  done: boolean;
}

export async function replayMessages(
  source: Iterable<ReplayMessage> | AsyncIterable<ReplayMessage>,
  sink: RecordSink,
  options: ReplayOptions,
): Promise<ReplayProgress> {
  const clock = options.clock ?? systemClock;
  const batchSize = options.ratePerSecond
    ? Math.max(1, Math.min(options.maxBatch, Math.ceil(options.ratePerSecond / 20)))
    : options.maxBatch;
  const bucket = options.ratePerSecond ? new TokenBucket(options.ratePerSecond, batchSize, clock) : null;
  const started = clock.now();
  const progress: ReplayProgress = {
    sent: 0,
    byTopic: { news: 0, chat: 0, labels: 0 },
    elapsedMs: 0,
    rate: 0,
    eventTimeMs: null,
    firstEventTimeMs: null,
    speedup: null,
    done: false,
  };
  let lastReport = started;
  const update = (): void => {
    progress.elapsedMs = clock.now() - started;
    progress.rate = progress.elapsedMs > 0 ? (progress.sent * 1000) / progress.elapsedMs : 0;
    if (progress.eventTimeMs !== null && progress.firstEventTimeMs !== null && progress.elapsedMs > 0) {
      progress.speedup = (progress.eventTimeMs - progress.firstEventTimeMs) / progress.elapsedMs;
    }
  };

  let batch: ReplayMessage[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    if (bucket) await bucket.take(batch.length);
    const byTopic = new Map<
      string,
      Array<{ key: string | null; value: Buffer; headers: Record<string, string> }>
    >();
    for (const m of batch) {
      const topic = options.topics[m.topic];
      if (topic === null) throw new Error('a label message needs a labels topic (kafka.topics.labels)');
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push({ key: m.key, value: m.value, headers: m.headers });
    }
    await sink.send([...byTopic].map(([topic, records]) => ({ topic, records })));
    for (const m of batch) {
      progress.sent++;
      progress.byTopic[m.topic]++;
      if (m.eventTimeMs !== undefined) {
        progress.firstEventTimeMs ??= m.eventTimeMs;
        progress.eventTimeMs = m.eventTimeMs;
      }
    }
    batch = [];
    const now = clock.now();
    if (options.onProgress && now - lastReport >= (options.progressEveryMs ?? 2_000)) {
      lastReport = now;
      update();
      options.onProgress({ ...progress });
    }
  };

  for await (const message of source) {
    if (options.signal?.aborted) break;
    batch.push(message);
    if (batch.length >= batchSize) await flush();
  }
  if (!options.signal?.aborted) await flush();
  update();
  progress.done = !options.signal?.aborted;
  options.onProgress?.({ ...progress });
  return progress;
}

/**
 * Streams the truth file: `{"documents":[…one DocumentTruth per message…],"truth":{GroundTruth}}`.
 * Documents are written as they are produced, so a run of any length needs no memory for them; the
 * summary goes last because its counts are final only at the end.
 */
export class TruthFileWriter {
  private readonly out: WriteStream;
  private first = true;

  constructor(path: string) {
    this.out = createWriteStream(path, 'utf8');
    this.out.write('{"documents":[\n');
  }

  async add(doc: DocumentTruth): Promise<void> {
    const ok = this.out.write(`${this.first ? '' : ',\n'}${JSON.stringify(doc)}`);
    this.first = false;
    if (!ok) await once(this.out, 'drain');
  }

  async close(truth: GroundTruth): Promise<void> {
    this.out.write(`\n],\n"truth":${JSON.stringify(truth, null, 1)}}\n`);
    this.out.end();
    await once(this.out, 'finish');
  }
}

export interface TruthFile {
  documents: DocumentTruth[];
  truth: GroundTruth;
}
