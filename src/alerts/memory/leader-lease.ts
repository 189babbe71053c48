import type { LeaderLease, LeaderTerm, LeaseListener } from '../ports.js';

/**
 * In-memory leader lease (unit tests, backtests): the same rules as the Redis lease
 * (src/io/redis/leader-lease.ts) — acquire only when free, a strictly larger fencing token per term,
 * compare-and-extend renewal, compare-and-delete release — held in a LeaseAuthority that replicas of
 * one process share. With the default infinite lease a single replica leads from its first tick on.
 */

/** The shared lease record (what Redis holds for the Redis lease). */
export class LeaseAuthority {
  holder: { value: string; expiresAtMs: number } | null = null;
  fence = 0;

  constructor(readonly now: () => number = Date.now) {}

  /** The holder's value while the lease has not expired. */
  current(): string | null {
    if (this.holder && this.now() >= this.holder.expiresAtMs) this.holder = null;
    return this.holder?.value ?? null;
  }
}

export interface MemoryLeaderLeaseOptions {
  authority?: LeaseAuthority;
  /** Default: infinite (never expires). */
  leaseMs?: number;
  replicaId?: string;
}

let replicas = 0;

export class MemoryLeaderLease implements LeaderLease {
  readonly replicaId: string;
  readonly authority: LeaseAuthority;
  private readonly leaseMs: number;
  private term: LeaderTerm | null = null;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: LeaseListener[] = [];

  constructor(options: MemoryLeaderLeaseOptions = {}) {
    this.authority = options.authority ?? new LeaseAuthority();
    this.leaseMs = options.leaseMs ?? Number.POSITIVE_INFINITY;
    this.replicaId = options.replicaId ?? `memory-${++replicas}`;
  }

  current(): LeaderTerm | null {
    if (this.term && this.authority.current() === this.term.leaseValue) return this.term;
    return null;
  }

  isLeader(): boolean {
    return this.current() !== null;
  }

  listen(listener: LeaseListener): void {
    this.listeners.push(listener);
  }

  /** Renew (compare-and-extend) or acquire (only when free). */
  tick(): Promise<void> {
    const before = this.current();
    const held = this.authority.current();
    if (this.term && held === this.term.leaseValue) {
      this.authority.holder = { value: held, expiresAtMs: this.authority.now() + this.leaseMs };
    } else {
      this.term = null;
      if (held === null) {
        const token = ++this.authority.fence;
        this.term = { token, leaseValue: `${this.replicaId}|${token}` };
        this.authority.holder = {
          value: this.term.leaseValue,
          expiresAtMs: this.authority.now() + this.leaseMs,
        };
      }
    }
    const after = this.current();
    if (Boolean(before) !== Boolean(after) || (before && after && before.token !== after.token))
      for (const l of this.listeners) l.onChange?.(Boolean(after), after?.token ?? 0);
    return Promise.resolve();
  }

  start(): void {
    void this.tick();
    if (this.timer || !Number.isFinite(this.leaseMs)) return;
    this.timer = setInterval(() => void this.tick(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
  }

  stop(release = true): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const wasLeader = this.isLeader();
    if (release && this.term && this.authority.current() === this.term.leaseValue)
      this.authority.holder = null;
    this.term = null;
    if (wasLeader) for (const l of this.listeners) l.onChange?.(false, 0);
    return Promise.resolve();
  }
}
