// A micro-batch's outputs on in-memory ports (src/pipeline/chunk-flow.ts): with a shared story index
// (stats.stories.shared), the enriched record's story_id, the prediction index and the window store
// all carry the id the registry gives, so a story's copies read by two replicas name one story
// everywhere; without it each process names the story by its own first copy. The same registry
// against Redis: test/integration/story-registry.test.ts.
import { describe, expect, it } from 'vitest';
import { liveObservationBuilder } from '../../../src/app/observations.js';
import { decodeEnriched } from '../../../src/codec/enriched.js';
import { parseConfig } from '../../../src/config/load.js';
import { MemoryStoryRegistry } from '../../../src/stats/shared-stories.js';
import { encodeNews, news } from '../../helpers/avro-producer.js';
import { fakeBatch, harness } from '../../helpers/pipeline-ports.js';

const config = parseConfig({});
const HEADLINE = 'Northwind Energy cuts refinery guidance after fire shuts two units';
const BODY =
  'Northwind Energy said output at its northern refinery fell by a third after a fire shut two units, that repairs would take until March, and that insurers had been notified of the damage to the plant.';

/** One outlet's copy of the story (its own id, source and minute), as the news topic carries it. */
const copy = (id: string, source: string, minute: number) =>
  encodeNews(
    news(id, { source, headline: HEADLINE, body: BODY, published_at: Date.UTC(2026, 0, 5, 9, minute) }),
  );

/** Two replicas: A reads the wire's copy, then B reads two other outlets' copies. */
async function storyIdsOfReplicaB(shared: boolean) {
  const registry = new MemoryStoryRegistry({
    windowMs: config.stats.stories.window,
    maxHammingDistance: 7,
    ttlMs: config.stats.stories.window + config.stats.allowedLateness,
  });
  const replica = () =>
    harness({ buildObservation: liveObservationBuilder(config), ...(shared ? { stories: registry } : {}) });
  const a = replica();
  await a.handle(fakeBatch([copy('wire-1', 'wire-a', 30)]));
  const b = replica();
  await b.handle(fakeBatch([copy('outlet-2', 'outlet-b', 32), copy('outlet-3', 'outlet-c', 33)], 200));
  return {
    a: decodeEnriched(a.ledger.enrichedValues.get('100')!).story_id,
    records: ['200', '201'].map((o) => decodeEnriched(b.ledger.enrichedValues.get(o)!).story_id),
    windows: b.stats.applied.flatMap((batch) => batch.observations.map((o) => o.storyId)),
  };
}

describe('ChunkFlow story ids', () => {
  it("writes the shared registry's story id on the enriched record and into the windows", async () => {
    const ids = await storyIdsOfReplicaB(true);
    expect(ids.a).toBe('wire-1');
    expect(ids.records).toEqual(['wire-1', 'wire-1']);
    expect(ids.windows).toEqual(['wire-1', 'wire-1']);
  });

  it('without the registry, a replica names the story by its own first copy', async () => {
    const ids = await storyIdsOfReplicaB(false);
    expect(ids.records).toEqual(['outlet-2', 'outlet-2']);
    expect(ids.windows).toEqual(ids.records);
  });
});
