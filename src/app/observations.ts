import { readFileSync } from 'node:fs';
import type { FinsentryConfig } from '../config/schema.js';
import type { ObservationBuilder } from '../pipeline/processor-types.js';
import { parseIssuerCsv, type IssuerEntry } from '../stats/issuer-master.js';
import { StoryObservationBuilder } from '../stats/story-observations.js';
import type { PipelineMetrics } from '../telemetry/metrics.js';

/**
 * The security master of stats.issuers.file (docs/alerting.md "Surge"), or null when none is
 * configured. A missing file, a bad line or an issuer dimension that stats.dimensions lacks stops the
 * start with an error that names the file or the setting.
 */
export function loadIssuerMaster(config: FinsentryConfig): IssuerEntry[] | null {
  const { file, dimension } = config.stats.issuers;
  if (file === undefined) return null;
  if (!config.stats.dimensions.some((d) => d.name === dimension))
    throw new Error(
      `stats.issuers.dimension "${dimension}" is not in stats.dimensions: add it or set stats.issuers.dimension`,
    );
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`stats.issuers.file ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseIssuerCsv(text, file);
}

/**
 * The pipeline's observation builder: story ids and issuer resolution (src/stats/story-observations.ts);
 * ORG mentions the security master does not resolve are counted in
 * finsentry_issuer_unresolved_mentions_total.
 */
export function liveObservationBuilder(
  config: FinsentryConfig,
  metrics?: Pick<PipelineMetrics, 'issuerMentionsUnresolved'>,
): ObservationBuilder {
  const builder = new StoryObservationBuilder(config.stats, loadIssuerMaster(config), (n) =>
    metrics?.issuerMentionsUnresolved(n),
  );
  return (doc, enrichment) => builder.build(doc, enrichment);
}
