import type { FinsentryConfig } from '../config/schema.js';
import type { InputDocument } from '../domain/documents.js';
import type { Enrichment } from '../domain/enrichment.js';
import type { StatsObservation } from '../domain/observation.js';
import { buildObservation, type IssuerGrouping } from './grouping.js';
import { IssuerResolver, type IssuerEntry } from './issuer-master.js';
import { StoryIndex, storyFingerprint } from './story.js';

/**
 * The live service's observations (docs/alerting.md "Surge"): grouping as configured, the issuer
 * dimension resolved through the security master when one is loaded (stats.issuers.file), and a
 * story id on documents of stats.stories.kinds, which the window store uses to count a story once per
 * group of stats.stories.dedupDimensions. The same resolver and story index as the backtest
 * (src/tools/backtest/observe.ts).
 *
 * Story ids come from this process's StoryIndex: the copies of one story get one id when one process
 * sees them (all input partitions of a single replica). Each observation also carries the story
 * fingerprint, from which the shared story registry (src/stats/shared-stories.ts, on by default in
 * the service) gives the copies consumed by different replicas one id too.
 */
export class StoryObservationBuilder {
  private readonly stories: StoryIndex;
  private readonly storyKinds: ReadonlySet<string>;
  private readonly issuers: IssuerGrouping | undefined;

  constructor(
    private readonly stats: Pick<FinsentryConfig['stats'], 'dimensions' | 'stories' | 'issuers'>,
    master: readonly IssuerEntry[] | null,
    onUnresolved?: (mentions: number) => void,
  ) {
    this.stories = new StoryIndex({ windowMs: stats.stories.window });
    this.storyKinds = new Set(stats.stories.kinds);
    this.issuers = master
      ? {
          resolver: new IssuerResolver(master, { ignore: stats.issuers.ignore }),
          dimension: stats.issuers.dimension,
          ...(onUnresolved ? { onUnresolved } : {}),
        }
      : undefined;
  }

  build(doc: InputDocument, enrichment: Enrichment): StatsObservation | null {
    const observation = buildObservation(doc, enrichment, this.stats.dimensions, this.issuers);
    if (observation && this.storyKinds.has(doc.kind)) {
      const fingerprint = storyFingerprint(doc.text);
      observation.storyId = this.stories.assignFingerprint(doc.id, fingerprint, doc.eventTimeMs);
      observation.storyFingerprint = fingerprint;
    }
    return observation;
  }
}
