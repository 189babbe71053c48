// Schema registry look-ups as metrics (src/app/schema-registry.ts, docs/schemas.md): each look-up by
// id is observed with its outcome, and the SchemaRegistry's caching decides how many there are.
import { describe, expect, it } from 'vitest';
import { observedLookup } from '../../../src/app/schema-registry.js';
import { schemaJson } from '../../../src/codec/schemas.js';
import { SchemaRegistry, type SchemaLookup } from '../../../src/codec/registry.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';

/** An in-memory registry: id 7 is known, 404 for the rest, id 13 cannot be answered (a 503). */
const lookup: SchemaLookup = {
  schemaById(id) {
    if (id === 13) return Promise.reject(new Error('503 from the registry'));
    return Promise.resolve(
      id === 7 ? { found: true, schema: JSON.stringify(schemaJson('NewsArticle')) } : { found: false },
    );
  },
};

function lookupCounts(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(
    /^finsentry_schema_registry_lookup_duration_seconds_count\{outcome="(\w+)"\} (\d+)/gm,
  ))
    counts[m[1]!] = Number(m[2]);
  return counts;
}

describe('schema registry look-ups as metrics', () => {
  it('counts found, not_found and error look-ups; a cached id is not looked up again', async () => {
    const metrics = createMetrics({ stats: { dimensions: [], topK: 10 }, processMetrics: false });
    let now = 0;
    const registry = new SchemaRegistry({
      lookup: observedLookup(lookup, (o, s) => metrics.schemaRegistryLookup(o, s)),
      notFoundTtlMs: 1_000,
      now: () => now,
    });
    await registry.prefetch([7, 8, 7]);
    await registry.prefetch([7, 8]); // 7 cached, 8 remembered as unknown for the TTL
    await expect(registry.prefetch([13])).rejects.toThrow(/503/);
    now = 1_001; // the negative cache expired: 8 is asked again
    await registry.prefetch([8]);
    expect(lookupCounts(await metrics.registry.metrics())).toEqual({
      found: 1,
      not_found: 2,
      error: 1,
    });
    expect(registry.get(7)).toBeDefined();
  });
});
