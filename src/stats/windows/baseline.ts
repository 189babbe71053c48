import type { GroupWindowStats } from '../../domain/windows.js';
import { windowEndFor } from './rules.js';

/** A captured reference window (`finsentry baseline capture`, design §6), kept without TTL. */
export interface BaselineSnapshot {
  name: string;
  capturedAtMs: number;
  watermarkMs: number;
  windowStartMs: number;
  windowEndMs: number;
  windowMs: number;
  bucketMs: number;
  dimensions: Record<string, GroupWindowStats[]>;
}

/** What a store offers to capture a baseline from. */
export interface BaselineSource {
  watermark(): Promise<number>;
  readAllDimensions(
    windowMs: number,
    endMs?: number,
  ): Promise<{ endMs: number; dimensions: Record<string, GroupWindowStats[]> } | null>;
}

/** Baseline names are part of storage keys: letters, digits, `.`, `_`, `-`. */
export function checkBaselineName(name: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name))
    throw new Error(`invalid baseline name "${name}" (letters, digits, . _ -)`);
  return name;
}

/** The window ending at the current watermark (all dimensions) as a named snapshot. */
export async function snapshotBaseline(
  source: BaselineSource,
  name: string,
  windowMs: number,
  bucketMs: number,
  nowMs: number,
): Promise<BaselineSnapshot> {
  checkBaselineName(name);
  const watermarkMs = await source.watermark();
  if (watermarkMs === 0) throw new Error('no statistics stored yet: nothing to capture');
  const endMs = windowEndFor(watermarkMs, bucketMs);
  const all = await source.readAllDimensions(windowMs, endMs);
  return {
    name,
    capturedAtMs: nowMs,
    watermarkMs,
    windowStartMs: endMs - windowMs,
    windowEndMs: endMs,
    windowMs,
    bucketMs,
    dimensions: all?.dimensions ?? {},
  };
}
