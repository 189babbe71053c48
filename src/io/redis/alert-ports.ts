import type { AlertStateStore } from '../../alerts/ports.js';
import { AlertStore } from './alert-store.js';
import type { RedisClient } from './client.js';
import { LeaderLease } from './leader-lease.js';

/** The evaluator's Redis-backed ports: alert state + outbox and the leader lease, on one client and prefix. */
export function redisAlertPorts(options: {
  redis: RedisClient;
  keyPrefix: string;
  leaseMs: number;
  replicaId?: string;
  monotonicNow?: () => number;
}): { store: AlertStateStore; lease: LeaderLease } {
  return {
    store: new AlertStore(options.redis, options.keyPrefix),
    lease: new LeaderLease({
      redis: options.redis,
      keyPrefix: options.keyPrefix,
      leaseMs: options.leaseMs,
      ...(options.replicaId ? { replicaId: options.replicaId } : {}),
      ...(options.monotonicNow ? { monotonicNow: options.monotonicNow } : {}),
    }),
  };
}
