import { MemoryWindowStore } from '../../stats/windows/memory-store.js';
import type { BacktestStore } from './backtest.js';

/**
 * The backtest's window store: the in-memory store with the Redis store's semantics
 * (src/stats/windows/memory-store.ts), counter TTLs on the event clock so that days of traffic keep
 * only the buckets the windows can still read.
 */
export function memoryBacktestStore(o: {
  bucketMs: number;
  allowedLatenessMs: number;
  windowsMs: number[];
}): BacktestStore {
  const retentionMs = Math.max(...o.windowsMs) + o.allowedLatenessMs + 2 * o.bucketMs + 600_000;
  return new MemoryWindowStore({
    bucketMs: o.bucketMs,
    allowedLatenessMs: o.allowedLatenessMs,
    ttlSeconds: Math.ceil(retentionMs / 1000),
    dimensions: [],
    expiry: 'event',
  });
}
