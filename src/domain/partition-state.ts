import { createHash } from 'node:crypto';
import type { RawRecord } from './records.js';

/**
 * Reconciling a partition's window-store state with the Kafka log before counting
 * (docs/guarantees.md "Lost state and offset reuse"). The store skips every observation at or below
 * the partition's stored offset (effectively-once). Two faults break that silently (issue 14):
 *   - the state hash is lost (evicted, deleted) while its counters remain: a replay counts twice;
 *   - the topic is deleted and recreated (offsets restart at 0): new records are skipped as "applied".
 * The store therefore keeps, beside the offset, a fingerprint of the record at that offset and of the
 * first record it saw (a marker of the topic's incarnation: kafkajs 2.2.4 speaks Metadata ≤ v6, so
 * no topic ids), and every counter hash carries the offset of the last batch that wrote it, from
 * which a lost offset is rebuilt exactly. Pure: the caller reads the store and Kafka.
 */

/** A record of the partition's log: its offset and fingerprint. */
export interface RecordMarker {
  offset: string;
  fingerprint: string;
}

/** What the store holds for one partition. */
export interface StoredPartitionState {
  /** False when the state hash does not exist at all. */
  exists: boolean;
  /** Last applied offset; null when nothing was applied. */
  offset: string | null;
  /** Fingerprint of the record at `offset` (absent on states written before fingerprints). */
  fingerprint: string | null;
  /** The first record the store saw of this partition's incarnation. */
  first: RecordMarker | null;
}

/** Port of the window store (src/io/redis/window-store.ts) for the state guard. */
export interface PartitionStateStore {
  readState(partitionKey: string): Promise<StoredPartitionState>;
  /** The last batch any surviving counter hash of the partition was written by; null when none. */
  countedState(partitionKey: string): Promise<CountedState | null>;
  /** Writes the reconciled state (the offset's fingerprint is dropped with a new offset). */
  writeState(partitionKey: string, state: StateWrite): Promise<void>;
}

/**
 * A sink wrapper keeps the wrapped store's partition-state port visible (src/pipeline/state-guard.ts);
 * without it lost state and reused offsets go unchecked (test/faults/state-loss.test.ts).
 */
export function withStatePortOf<T extends object>(
  wrapper: T,
  wrapped: object,
): T & Partial<PartitionStateStore> {
  const state = wrapped as Partial<PartitionStateStore>;
  const out = wrapper as T & Partial<PartitionStateStore>;
  if (state.readState && state.countedState && state.writeState) {
    out.readState = (key) => state.readState!(key);
    out.countedState = (key) => state.countedState!(key);
    out.writeState = (key, write) => state.writeState!(key, write);
  }
  return out;
}

/** Offset and event clock (epoch ms, decimal) of the last batch that wrote a counter hash. */
export interface CountedState {
  offset: string;
  watermarkMs: string | null;
}

export interface StateWrite {
  /** New last applied offset; null: nothing applied; undefined: keep the stored one. */
  offset?: string | null;
  /** Event clock to restore with a rebuilt offset. */
  watermarkMs?: string | null;
  first: RecordMarker | null;
  reason: string;
}

/** Why a state was reconciled; exported as a metric label. */
export type StateEventReason =
  /** State lost, offset rebuilt from the counters: exact, nothing counted twice. */
  | 'state-rebuilt'
  /** State lost and no counter survived: counting resumes at the committed offset. */
  | 'state-lost'
  /** The stored offset is past the log's end or its record changed: the topic was recreated. */
  | 'offset-reuse'
  /** The group has no committed offset and no marker can be checked: replayed as before, reported. */
  | 'offset-unverified';

export type StateDecision =
  | { action: 'keep' }
  /** A partition seen for the first time: create its state with the first-record marker. */
  | { action: 'init'; first: RecordMarker }
  | {
      action: 'reseed';
      offset: string | null;
      watermarkMs?: string | null;
      first: RecordMarker;
      reason: StateEventReason;
      detail: string;
    }
  | { action: 'report'; reason: StateEventReason; detail: string };

/** Fingerprint of a record: its timestamp, key and value (what a recreated topic cannot reproduce by chance). */
export function recordFingerprint(record: Pick<RawRecord, 'timestamp' | 'key' | 'value'>): string {
  const h = createHash('sha256');
  h.update(record.timestamp);
  h.update('\u0000');
  if (record.key) h.update(record.key);
  h.update('\u0000');
  if (record.value) h.update(record.value);
  return h.digest('hex').slice(0, 16);
}

export interface StateFacts {
  stored: StoredPartitionState;
  /** The fetched records (offset order) and the partition's high watermark at fetch time. */
  records: readonly Pick<RawRecord, 'offset' | 'timestamp' | 'key' | 'value'>[];
  highWatermark: string;
  /** Read lazily: only the cases that need them ask. */
  countedState: () => Promise<CountedState | null>;
  /** The group's committed offset (next to read); null when the group has none. */
  committedOffset: () => Promise<string | null>;
}

const minus1 = (offset: string): string | null => (offset === '0' ? null : (BigInt(offset) - 1n).toString());

/** A marker whose record is in the batch and differs from it; null when none can be compared or all agree. */
function changedMarker(markers: readonly RecordMarker[], facts: StateFacts): RecordMarker | null {
  for (const m of markers) {
    const record = facts.records.find((r) => r.offset === m.offset);
    if (record && recordFingerprint(record) !== m.fingerprint) return m;
  }
  return null;
}

/** Decides what to do with a partition's stored state before its fetched batch is counted. */
export async function decidePartitionState(facts: StateFacts): Promise<StateDecision> {
  const { stored, records } = facts;
  const head = records[0]!;
  const first: RecordMarker = { offset: head.offset, fingerprint: recordFingerprint(head) };
  if (!stored.exists) {
    const counted = await facts.countedState();
    if (counted !== null)
      return {
        action: 'reseed',
        offset: counted.offset,
        watermarkMs: counted.watermarkMs,
        first,
        reason: 'state-rebuilt',
        detail: `offset ${counted.offset} and event clock ${counted.watermarkMs} from the counters`,
      };
    const committed = await facts.committedOffset();
    if (committed === null) return { action: 'init', first };
    const offset = minus1(committed);
    return {
      action: 'reseed',
      offset,
      first,
      reason: 'state-lost',
      detail: `no counter survived; resuming at the committed offset ${committed}`,
    };
  }
  if (stored.offset === null) return stored.first ? { action: 'keep' } : { action: 'init', first };
  const reused = (detail: string): StateDecision => ({
    action: 'reseed',
    offset: null,
    first,
    reason: 'offset-reuse',
    detail,
  });
  if (BigInt(stored.offset) >= BigInt(facts.highWatermark))
    return reused(`stored offset ${stored.offset} at or past the log end ${facts.highWatermark}`);
  const markers = [
    ...(stored.fingerprint ? [{ offset: stored.offset, fingerprint: stored.fingerprint }] : []),
    ...(stored.first ? [stored.first] : []),
  ];
  const changed = changedMarker(markers, facts);
  if (changed) return reused(`the record at offset ${changed.offset} is not the one counted`);
  // The whole batch lies at or below the stored offset (all of it would be skipped as a replay) and no
  // marker is in it: fine after a crash (the group committed below the stored offset), unverifiable
  // when the group has no committed offset at all (topic recreated, or the group's offsets expired).
  const last = records[records.length - 1]!.offset;
  const verifiable = markers.some((m) => records.some((r) => r.offset === m.offset));
  if (!verifiable && BigInt(last) <= BigInt(stored.offset) && (await facts.committedOffset()) === null)
    return {
      action: 'report',
      reason: 'offset-unverified',
      detail: `offsets ${head.offset}-${last} at or below the stored ${stored.offset}, no committed offset, no marker in the batch: skipped as a replay`,
    };
  return { action: 'keep' };
}
