/** Small timing and statistics helpers of the benchmark (pure, no I/O). */

import { median } from '../../stats/median.js';

export { median };

/** Nearest-rank percentile (p in [0, 100]) of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/** Seconds taken by `fn`. */
export async function timed(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * Wall and CPU seconds taken by `fn`. CPU time is the whole process's (process.cpuUsage: every
 * thread — the event loop, the inference workers, ORT's pools), so docs per CPU-second stays
 * meaningful on a machine shared with other jobs, where wall time is not.
 */
export async function timedCpu(fn: () => Promise<void>): Promise<{ seconds: number; cpuSeconds: number }> {
  const cpu = process.cpuUsage();
  const seconds = await timed(fn);
  const used = process.cpuUsage(cpu);
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** Runs `fn` `reps` times and returns every duration and the median (seconds). */
export async function repeated(
  reps: number,
  fn: () => Promise<void>,
): Promise<{ seconds: number; runs: number[] }> {
  const runs: number[] = [];
  for (let i = 0; i < Math.max(1, reps); i++) runs.push(await timed(fn));
  return { seconds: median(runs), runs };
}

/** Runs `worker` over `items` with at most `concurrency` calls in flight, keeping no results. */
export async function forEachBounded<T>(
  items: readonly T[],
  concurrency: number,
  worker: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await worker(item);
    }
  });
  await Promise.all(lanes);
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return null;
  return a / b;
}
