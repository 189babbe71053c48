import type { Admin, Kafka } from 'kafkajs';
import {
  ProgressWatchdog,
  type PartitionPosition,
  type PartitionProgress,
} from '../../domain/partition-progress.js';
import type { Logger } from '../../telemetry/logger.js';

export interface LagMonitorOptions {
  groupId: string;
  /** The partitions this member owns now (from the consumer's group-join events). */
  assignment: () => ReadonlyMap<string, readonly number[]>;
  intervalMs: number;
  stallAfterMs: number;
  /** Every sample: lag and stall per assigned partition (metrics). */
  onSample: (progress: readonly PartitionProgress[]) => void;
  logger: Logger;
  clock?: () => number;
}

/**
 * Consumer lag read from the broker on a timer — high watermarks and the group's committed offsets,
 * as Burrow or kafka-lag-exporter read them — for the partitions this member owns, fed into the
 * progress watchdog. Lag computed when a batch is processed (the pipeline's own figure) stops
 * updating when the pipeline is stuck, which is when it matters (issue 14: it read 0 while 290
 * records waited behind a paused Redis).
 */
export class LagMonitor {
  private readonly watchdog: ProgressWatchdog;
  private admin: Admin | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sampling: Promise<void> = Promise.resolve();

  constructor(
    private readonly kafka: Kafka,
    private readonly options: LagMonitorOptions,
  ) {
    this.watchdog = new ProgressWatchdog(options.stallAfterMs);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sample());
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /** Partitions stalled at the last sample (for /healthz). */
  stalled(): PartitionProgress[] {
    return this.watchdog.stalled();
  }

  async sample(): Promise<void> {
    const assignment = this.options.assignment();
    if (assignment.size === 0) return;
    try {
      const positions = await this.positions(assignment);
      const progress = this.watchdog.observe(positions, (this.options.clock ?? Date.now)());
      this.options.onSample(progress);
    } catch (err) {
      // The broker may be the dependency that is down: keep the last positions; the stall clock runs on.
      this.options.logger.debug({ err }, 'consumer lag sample failed');
      await this.closeAdmin();
    }
  }

  private async positions(assignment: ReadonlyMap<string, readonly number[]>): Promise<PartitionPosition[]> {
    this.admin ??= this.kafka.admin();
    await this.admin.connect();
    const topics = [...assignment.keys()];
    const committed = new Map<string, bigint | null>();
    for (const t of await this.admin.fetchOffsets({ groupId: this.options.groupId, topics }))
      for (const p of t.partitions)
        committed.set(`${t.topic}:${p.partition}`, Number(p.offset) >= 0 ? BigInt(p.offset) : null);
    const out: PartitionPosition[] = [];
    for (const topic of topics) {
      const owned = new Set(assignment.get(topic));
      for (const p of await this.admin.fetchTopicOffsets(topic)) {
        if (!owned.has(p.partition)) continue;
        out.push({
          topic,
          partition: p.partition,
          committed: committed.get(`${topic}:${p.partition}`) ?? null,
          low: BigInt(p.low),
          high: BigInt(p.high),
        });
      }
    }
    return out;
  }

  private async closeAdmin(): Promise<void> {
    const admin = this.admin;
    this.admin = null;
    await admin?.disconnect().catch(() => undefined);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sampling;
    await this.closeAdmin();
  }
}
