import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { decodeAlertEvent, type AlertEvent } from '../../alerts/events.js';
import { ConsumerPositions } from '../../io/kafka/positions.js';
import { readDeadLetterHeaders } from '../../pipeline/dlq.js';
import { AlertLog } from './alert-log.js';
import type { DeadLetterRead } from './summary.js';

/** Reads the alerts and DLQ topics from the beginning for the whole run (a throw-away group, nothing committed). */
export class TopicWatcher {
  readonly alerts = new AlertLog();
  readonly deadLetters: DeadLetterRead[] = [];
  private readonly deadLetterKeys = new Set<string>();
  private positions: ConsumerPositions | undefined;
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
    this.positions = new ConsumerPositions(consumer);
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
        // The position, not the last message: the topics end with transaction markers (./positions).
        if (!this.positions?.reached(topic, p.partition, high)) return false;
      }
    }
    return true;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}
