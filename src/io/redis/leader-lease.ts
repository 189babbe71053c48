import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { LeaderLease as LeaderLeasePort, LeaderTerm, LeaseListener } from '../../alerts/ports.js';
import type { RedisClient } from './client.js';

export type { LeaderTerm } from '../../alerts/ports.js';

/**
 * Leader lease on Redis, so that exactly one evaluator replica is active (design §7).
 *
 * - acquire: one Lua script does `SET lease NX PX` and `INCR fence` atomically, so every term has a
 *   new, strictly larger fencing token; the lease value is "<replicaId>|<token>".
 * - renew: compare-and-extend (PEXPIRE only if the lease still holds our value).
 * - release: compare-and-delete, so an old leader can never delete a successor's lease.
 * - writes of the leader (alert state, outbox) are guarded by the same comparison plus
 *   `fence == token` inside their own Lua scripts (src/io/redis/alert-store.ts): a replica that paused past
 *   its lease (GC, network partition) cannot write after a successor took over.
 * Locally a replica considers itself leader only until (last successful renewal + lease − margin),
 * so it stops acting before Redis could hand the lease to someone else. That deadline is kept on a
 * monotonic clock (performance.now): a wall clock stepped back (NTP, a VM resumed) must not extend
 * it (issue 14: paused 1.2 s with its clock stepped back 5 s, a leader believed its lease valid).
 * Publishing is fenced too (AlertStateStore.holds, checked before every publish), not only the
 * local deadline.
 * All keys share the hash tag {alerts}, so the scripts also run on Redis Cluster.
 */

const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export function alertKeys(keyPrefix: string): {
  lease: string;
  fence: string;
  state: string;
  outbox: string;
} {
  const base = `${keyPrefix}:{alerts}`;
  return {
    lease: `${base}:leader`,
    fence: `${base}:fence`,
    state: `${base}:state`,
    outbox: `${base}:outbox`,
  };
}

export interface LeaderLeaseOptions {
  redis: RedisClient;
  keyPrefix: string;
  leaseMs: number;
  replicaId?: string;
  /** How often to renew (leader) or try to acquire (follower); default lease / 3. */
  tickMs?: number;
  onChange?: (leader: boolean, token: number) => void;
  onError?: (err: unknown) => void;
  /** Monotonic milliseconds for the lease deadline (default performance.now; tests inject one). */
  monotonicNow?: () => number;
}

/** The Redis implementation of the evaluator's LeaderLease port (src/alerts/ports.ts). */
export class LeaderLease implements LeaderLeasePort {
  readonly replicaId: string;
  private term: LeaderTerm | null = null;
  private validUntilMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly keys: ReturnType<typeof alertKeys>;
  private readonly now: () => number;
  private readonly tickMs: number;
  /** Stop acting as leader this long before the lease would expire in Redis (clock/RTT margin). */
  private readonly marginMs: number;
  private readonly listeners: LeaseListener[] = [];

  constructor(private readonly options: LeaderLeaseOptions) {
    this.replicaId = options.replicaId ?? randomUUID();
    this.keys = alertKeys(options.keyPrefix);
    this.now = options.monotonicNow ?? (() => performance.now());
    this.tickMs = options.tickMs ?? Math.max(50, Math.floor(options.leaseMs / 3));
    this.marginMs = Math.min(1_000, Math.floor(options.leaseMs / 10));
    this.listeners.push({
      ...(options.onChange ? { onChange: options.onChange } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }

  listen(listener: LeaseListener): void {
    this.listeners.push(listener);
  }

  private changed(leader: boolean, token: number): void {
    for (const l of this.listeners) l.onChange?.(leader, token);
  }

  private failed(err: unknown): void {
    for (const l of this.listeners) l.onError?.(err);
  }

  /** The current term when this replica is leader and its lease is locally known to be valid. */
  current(): LeaderTerm | null {
    if (this.term && this.now() < this.validUntilMs) return this.term;
    return null;
  }

  isLeader(): boolean {
    return this.current() !== null;
  }

  /** One renew-or-acquire attempt; serialised, safe to call concurrently with the timer. */
  tick(): Promise<void> {
    this.ticking ??= this.doTick().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async doTick(): Promise<void> {
    const { redis, leaseMs } = this.options;
    const started = this.now();
    const wasLeader = this.current();
    try {
      if (this.term) {
        const ok = Number(await redis.eval(RENEW, 1, this.keys.lease, this.term.leaseValue, leaseMs));
        if (ok === 1) {
          this.validUntilMs = started + leaseMs - this.marginMs;
        } else {
          this.lose();
        }
      }
      if (!this.term) {
        const token = Number(
          await redis.eval(ACQUIRE, 2, this.keys.lease, this.keys.fence, this.replicaId, leaseMs),
        );
        if (token > 0) {
          this.term = { token, leaseValue: `${this.replicaId}|${token}` };
          this.validUntilMs = started + leaseMs - this.marginMs;
        }
      }
    } catch (err) {
      this.failed(err);
      if (this.term && this.now() >= this.validUntilMs) this.lose();
    }
    const isLeader = this.current();
    if (
      Boolean(wasLeader) !== Boolean(isLeader) ||
      (wasLeader && isLeader && wasLeader.token !== isLeader.token)
    ) {
      this.changed(Boolean(isLeader), isLeader?.token ?? 0);
    }
  }

  private lose(): void {
    this.term = null;
    this.validUntilMs = 0;
  }

  start(): void {
    if (this.timer) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref();
  }

  /** Stops renewing; with release, deletes the lease (compare-and-delete) so a successor need not wait. */
  async stop(release = true): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    const term = this.term;
    const wasLeader = this.isLeader();
    this.lose();
    if (release && term) {
      try {
        await this.options.redis.eval(RELEASE, 1, this.keys.lease, term.leaseValue);
      } catch (err) {
        this.failed(err);
      }
    }
    if (wasLeader) this.changed(false, 0);
  }
}
