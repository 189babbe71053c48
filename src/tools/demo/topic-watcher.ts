import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { decodeAlertEvent, type AlertEvent } from '../../alerts/events.js';
import { readDeadLetterHeaders } from '../../pipeline/dlq.js';
import { AlertLog } from './alert-log.js';
import type { DeadLetterRead } from './summary.js';

/** Reads the alerts and DLQ topics from the beginning for the whole run (a throw-away group, nothing committed). */
export class TopicWatcher {
  readonly alerts = new AlertLog();
  readonly deadLetters: DeadLetterRead[] = [];
  private readonly deadLetterKeys = new Set<string>();
  private readonly nextOffset = new Map<string, bigint>();
  private consumer: Consumer | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly topics: { alerts: string; dlq: string },
    private readonly onAlert: (event: AlertEvent) => void,
    private readonly logger: Logger,
  ) {}

  get deadLettersSeen(): number {
    return this.deadLetterKeys.size;
  }

  async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: 10_000,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    // The position, not the last message: the alert publisher writes in transactions, so each topic
    // ends with a commit marker that no message carries. END_BATCH_PROCESS reports the last offset a
    // fetch covered, markers included (kafkajs emits it for marker-only fetches too).
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const key = `${payload.topic}:${payload.partition}`;
      const next = BigInt(payload.lastOffset) + 1n;
      if (next > (this.nextOffset.get(key) ?? 0n)) this.nextOffset.set(key, next);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topics.alerts, this.topics.dlq], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, message }) => {
        if (topic === this.topics.alerts) {
          if (!message.value) return;
          try {
            const event = decodeAlertEvent(message.value);
            if (this.alerts.add(event)) this.onAlert(event);
          } catch (err) {
            this.logger.warn({ err, offset: message.offset }, 'undecodable alert event');
          }
          return;
        }
        const key = message.key ? message.key.toString('utf8') : null;
        const reason = readDeadLetterHeaders(message.headers).reason ?? null;
        this.deadLetters.push({ key, reason });
        if (key !== null) this.deadLetterKeys.add(key);
      },
    });
  }

  /** True once every record now in both topics has been read. */
  async caughtUp(admin: Admin): Promise<boolean> {
    for (const topic of [this.topics.alerts, this.topics.dlq]) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const high = BigInt(p.high);
        if (high <= BigInt(p.low)) continue;
        if ((this.nextOffset.get(`${topic}:${p.partition}`) ?? 0n) < high) return false;
      }
    }
    return true;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}
