import type { Admin } from 'kafkajs';
import type { PipelineSignals } from './measure.js';

/**
 * Pipeline health as seen from Kafka itself, so the figures are global (all replicas) and survive a
 * leader change: input and DLQ topic end offsets, and the consumer group's committed offsets.
 * Rates are computed over a sliding span of snapshots (default 5 minutes) rather than one interval,
 * so a single slow evaluation does not spike them.
 */

export interface OffsetSnapshot {
  atMs: number;
  /** Sum of end offsets (high watermarks) of the input topics. */
  inputEnd: number;
  /** Sum of end offsets of the DLQ topic. */
  dlqEnd: number;
  /** Sum of end offsets of the late-records topic (absent: not read). */
  lateEnd?: number;
  /** Sum over input partitions of the committed offset (partitions never committed count as their low offset). */
  committed: number;
  /** Σ max(0, end − committed) over input partitions. */
  lag: number;
  /** Per-partition lag, for the consumer-lag gauge. */
  partitions: Array<{ topic: string; partition: number; lag: number }>;
}

export class PipelineSignalTracker {
  private readonly history: OffsetSnapshot[] = [];
  private lastProgressMs: number | undefined;
  private lastCommitted: number | undefined;

  constructor(private readonly spanMs = 300_000) {}

  /** Adds a snapshot and returns the signals over the span that ends with it (pure apart from its own history). */
  push(s: OffsetSnapshot): PipelineSignals {
    if (this.lastCommitted === undefined || s.committed !== this.lastCommitted || s.lag === 0)
      this.lastProgressMs = s.atMs;
    this.lastCommitted = s.committed;
    this.history.push(s);
    while (this.history.length > 2 && s.atMs - this.history[1]!.atMs >= this.spanMs) this.history.shift();
    const first = this.history[0]!;
    const seconds = (s.atMs - first.atMs) / 1000;
    const dInput = Math.max(0, s.inputEnd - first.inputEnd);
    const dCommitted = Math.max(0, s.committed - first.committed);
    const dDlq = Math.max(0, s.dlqEnd - first.dlqEnd);
    const dLate = Math.max(0, (s.lateEnd ?? 0) - (first.lateEnd ?? 0));
    return {
      consumerLag: s.lag,
      dlqRate: seconds > 0 ? dDlq / seconds : 0,
      // Share of the records the group consumed (not of those produced): dead letters are written as
      // records are consumed, so while a backlog builds up a share of produced records reads too low.
      dlqShare: dCommitted > 0 ? Math.min(1, dDlq / dCommitted) : 0,
      inputRate: seconds > 0 ? dInput / seconds : 0,
      lateShare: dCommitted > 0 ? Math.min(1, dLate / dCommitted) : 0,
      stalledSeconds: s.lag > 0 ? (s.atMs - (this.lastProgressMs ?? s.atMs)) / 1000 : 0,
      partitionLag: Object.fromEntries(s.partitions.map((p) => [`${p.topic}:${p.partition}`, p.lag])),
    };
  }
}

export interface KafkaOffsetsOptions {
  admin: Admin;
  groupId: string;
  inputTopics: string[];
  dlqTopic: string;
  /** Late-records topic (kafka.topics.late), for late_share. */
  lateTopic?: string;
}

/** Reads one OffsetSnapshot through the kafkajs admin client (topics that do not exist count as empty). */
export async function readOffsetSnapshot(
  o: KafkaOffsetsOptions,
  nowMs: number = Date.now(),
): Promise<OffsetSnapshot> {
  const existing = new Set(await o.admin.listTopics());
  const inputTopics = o.inputTopics.filter((t) => existing.has(t));
  let inputEnd = 0;
  let committed = 0;
  let lag = 0;
  const partitions: OffsetSnapshot['partitions'] = [];
  const committedByTopic = new Map<string, Map<number, number>>();
  if (inputTopics.length > 0) {
    const groupOffsets = await o.admin.fetchOffsets({ groupId: o.groupId, topics: inputTopics });
    for (const t of groupOffsets) {
      committedByTopic.set(t.topic, new Map(t.partitions.map((p) => [p.partition, Number(p.offset)])));
    }
  }
  for (const topic of inputTopics) {
    const ends = await o.admin.fetchTopicOffsets(topic);
    for (const p of ends) {
      const end = Number(p.high);
      const low = Number(p.low);
      const c = committedByTopic.get(topic)?.get(p.partition) ?? -1;
      const effective = c >= 0 ? c : low;
      inputEnd += end;
      committed += effective;
      const partitionLag = Math.max(0, end - effective);
      lag += partitionLag;
      partitions.push({ topic, partition: p.partition, lag: partitionLag });
    }
  }
  let dlqEnd = 0;
  if (existing.has(o.dlqTopic)) {
    for (const p of await o.admin.fetchTopicOffsets(o.dlqTopic)) dlqEnd += Number(p.high);
  }
  let lateEnd = 0;
  if (o.lateTopic && existing.has(o.lateTopic)) {
    for (const p of await o.admin.fetchTopicOffsets(o.lateTopic)) lateEnd += Number(p.high);
  }
  return { atMs: nowMs, inputEnd, dlqEnd, lateEnd, committed, lag, partitions };
}
