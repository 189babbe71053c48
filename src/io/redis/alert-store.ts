import type { RedisClient } from './client.js';
import type { AlertEvent } from '../../alerts/events.js';
import type { AlertStateStore, LeaderTerm, OutboxEntry } from '../../alerts/ports.js';
import { alertKeys } from './leader-lease.js';
import type { AlertRecord } from '../../alerts/state-machine.js';

export type { OutboxEntry } from '../../alerts/ports.js';

/**
 * Alert state and the event outbox in Redis, so that a leader change neither re-fires nor forgets
 * an alert. One fenced Lua script per evaluation writes the changed records and appends the round's
 * events to the outbox atomically; the leader then publishes the outbox to Kafka and removes each
 * published entry by value. A new leader first publishes whatever its predecessor left in the
 * outbox, so a transition committed just before a crash is still emitted exactly once in the normal
 * case. (Should a leader die after Kafka acknowledged an event but before removing it, the event is
 * published again with the same `event_id`: consumers deduplicate on it.)
 */

const COMMIT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
local nUpserts = tonumber(ARGV[3])
local nDeletes = tonumber(ARGV[4])
local i = 5
for _ = 1, nUpserts do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, nDeletes do
  redis.call('HDEL', KEYS[3], ARGV[i])
  i = i + 1
end
while i <= #ARGV do
  redis.call('RPUSH', KEYS[4], ARGV[i])
  i = i + 1
end
return 1`;

/** The Redis implementation of the evaluator's AlertStateStore port (src/alerts/ports.ts). */
export class AlertStore implements AlertStateStore {
  private readonly keys: ReturnType<typeof alertKeys>;

  constructor(
    private readonly redis: RedisClient,
    keyPrefix: string,
  ) {
    this.keys = alertKeys(keyPrefix);
  }

  async load(): Promise<Map<string, AlertRecord>> {
    const raw = await this.redis.hgetall(this.keys.state);
    const out = new Map<string, AlertRecord>();
    for (const [fingerprint, json] of Object.entries(raw))
      out.set(fingerprint, JSON.parse(json) as AlertRecord);
    return out;
  }

  /**
   * Atomically writes records, deletes fingerprints and appends events to the outbox — only if
   * `term` still holds the lease and is the latest fencing token. Returns false when fenced out.
   */
  async commit(
    term: LeaderTerm,
    upserts: readonly AlertRecord[],
    deletes: readonly string[],
    events: readonly AlertEvent[],
  ): Promise<boolean> {
    const args: Array<string | number> = [
      term.leaseValue,
      String(term.token),
      upserts.length,
      deletes.length,
    ];
    for (const r of upserts) args.push(r.fingerprint, JSON.stringify(r));
    for (const d of deletes) args.push(d);
    for (const e of events) args.push(JSON.stringify(e));
    const ok = await this.redis.eval(
      COMMIT,
      4,
      this.keys.lease,
      this.keys.fence,
      this.keys.state,
      this.keys.outbox,
      ...args,
    );
    return Number(ok) === 1;
  }

  async holds(term: LeaderTerm): Promise<boolean> {
    // One MGET: both keys share the {alerts} hash tag (one slot on a cluster).
    const [lease, fence] = await this.redis.mget(this.keys.lease, this.keys.fence);
    return lease === term.leaseValue && fence === String(term.token);
  }

  async outbox(): Promise<OutboxEntry[]> {
    const raw = await this.redis.lrange(this.keys.outbox, 0, -1);
    return raw.map((r) => ({ raw: r, event: JSON.parse(r) as AlertEvent }));
  }

  /** Removes published entries by exact value (idempotent; never removes anything else). */
  async acknowledge(entries: readonly OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const e of entries) pipeline.lrem(this.keys.outbox, 1, e.raw);
    await pipeline.exec();
  }

  /** Deletes every key of this prefix's alert state (tests and `finsentry alerts reset`). */
  async clear(): Promise<void> {
    await this.redis.del(this.keys.state, this.keys.outbox, this.keys.lease, this.keys.fence);
  }
}
