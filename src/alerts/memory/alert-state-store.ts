import type { AlertEvent } from '../events.js';
import type { AlertStateStore, LeaderTerm, OutboxEntry } from '../ports.js';
import type { AlertRecord } from '../state-machine.js';
import { LeaseAuthority } from './leader-lease.js';

/**
 * In-memory alert records and outbox (unit tests, backtests), fenced like the Redis store
 * (src/io/redis/alert-store.ts): a commit writes only while `term` holds the lease of `authority` and
 * is its latest token, all or nothing. Records are copied in and out, as serialisation would.
 */
export class MemoryAlertStateStore implements AlertStateStore {
  private readonly records = new Map<string, AlertRecord>();
  private readonly entries: OutboxEntry[] = [];
  private seq = 0;

  /** Pass the authority of the lease(s) the evaluator runs with. */
  constructor(readonly authority: LeaseAuthority) {}

  load(): Promise<Map<string, AlertRecord>> {
    return Promise.resolve(new Map([...this.records].map(([k, r]) => [k, structuredClone(r)])));
  }

  commit(
    term: LeaderTerm,
    upserts: readonly AlertRecord[],
    deletes: readonly string[],
    events: readonly AlertEvent[],
  ): Promise<boolean> {
    if (this.authority.current() !== term.leaseValue || this.authority.fence !== term.token)
      return Promise.resolve(false);
    for (const r of upserts) this.records.set(r.fingerprint, structuredClone(r));
    for (const d of deletes) this.records.delete(d);
    for (const e of events)
      this.entries.push({ raw: `${++this.seq}`, event: structuredClone(e) as AlertEvent });
    return Promise.resolve(true);
  }

  holds(term: LeaderTerm): Promise<boolean> {
    return Promise.resolve(
      this.authority.current() === term.leaseValue && this.authority.fence === term.token,
    );
  }

  outbox(): Promise<OutboxEntry[]> {
    return Promise.resolve([...this.entries]);
  }

  acknowledge(entries: readonly OutboxEntry[]): Promise<void> {
    const done = new Set(entries.map((e) => e.raw));
    for (let i = this.entries.length - 1; i >= 0; i--)
      if (done.has(this.entries[i]!.raw)) this.entries.splice(i, 1);
    return Promise.resolve();
  }
}
