import type { WindowReader } from '../domain/windows.js';
import type { AlertEvent } from './events.js';
import type { AlertRecord } from './state-machine.js';

/**
 * The ports of the alert evaluator (design §7): what it needs from the outside, owned here so that
 * the rules and the state machine run on any implementation — Redis and Kafka in the service
 * (src/io/redis/alert-store.ts, src/io/redis/leader-lease.ts, src/io/kafka/alert-publisher.ts,
 * src/io/http/alertmanager.ts), process memory in unit tests and backtests (src/alerts/memory/).
 */

/** The windows the evaluator reads (the window store: Redis or memory). */
export type { WindowReader };

/** One term of leadership: a strictly increasing fencing token. */
export interface LeaderTerm {
  token: number;
  /** The lease's stored value, "<replicaId>|<token>"; the state store compares it when committing. */
  leaseValue: string;
}

export interface LeaseListener {
  onChange?(leader: boolean, token: number): void;
  onError?(err: unknown): void;
}

/** Exactly one active evaluator replica (design §7). */
export interface LeaderLease {
  readonly replicaId: string;
  /** The current term when this replica is leader and its lease is locally known to be valid. */
  current(): LeaderTerm | null;
  isLeader(): boolean;
  /** One renew-or-acquire attempt. */
  tick(): Promise<void>;
  /** Renews or acquires periodically until stop(). */
  start(): void;
  /** Stops renewing; with release, hands the lease back so a successor need not wait. */
  stop(release?: boolean): Promise<void>;
  /** Adds a listener of leadership changes and lease errors. */
  listen(listener: LeaseListener): void;
}

/** An event committed to the outbox and not yet acknowledged as published. */
export interface OutboxEntry {
  /** The stored form of the entry (used to remove exactly this entry). */
  raw: string;
  event: AlertEvent;
}

/**
 * Alert records and the event outbox. commit() writes records, deletes fingerprints and appends
 * events atomically, and only while `term` is still the lease holder and the latest fencing token.
 */
export interface AlertStateStore {
  load(): Promise<Map<string, AlertRecord>>;
  /** Returns false when fenced out (nothing written). */
  commit(
    term: LeaderTerm,
    upserts: readonly AlertRecord[],
    deletes: readonly string[],
    events: readonly AlertEvent[],
  ): Promise<boolean>;
  outbox(): Promise<OutboxEntry[]>;
  /**
   * True while `term` still holds the lease and is the latest fencing token in the store: checked
   * right before publishing, so a replica whose lease moved on (a pause, a lost key) never publishes.
   */
  holds(term: LeaderTerm): Promise<boolean>;
  /** Removes published entries (idempotent; never removes anything else). */
  acknowledge(entries: readonly OutboxEntry[]): Promise<void>;
}

/** Where alert events go once committed (Kafka alerts topic, Alertmanager, a backtest's list). */
export interface AlertPublisher {
  /** Publishes events in order; resolves once durably accepted (Kafka acks), rejects otherwise. */
  publish(events: readonly AlertEvent[]): Promise<void>;
  /**
   * Called before the first publish of each leader term, after the fence check: a publisher that can
   * fence earlier leaders itself (Kafka transactions, FencedAlertPublisher) does so here.
   */
  openTerm?(term: LeaderTerm): Promise<void>;
  /**
   * A best-effort publisher (the webhook) does not hold back the outbox: its failure is logged and
   * the events are still acknowledged once the required publishers (Kafka) have them.
   */
  bestEffort?: boolean;
}
