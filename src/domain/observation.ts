import type { DocumentKind } from './documents.js';
import type { SentimentLabel } from './enrichment.js';

/** A group a document belongs to along one dimension (e.g. { dimension: 'region', value: 'emea' }). */
export interface GroupRef {
  dimension: string;
  value: string;
}

/** A text's story fingerprint (src/stats/story.ts storyFingerprint): never the text itself. */
export interface StoryFingerprint {
  /** sha256 of the normalised text, 32 hex digits. */
  digest: string;
  /** 64-bit SimHash of the text's shingles as [hi, lo]; null below the near-match length. */
  simHash: [number, number] | null;
}

/**
 * What the statistics stage records about one enriched document — numbers and group values only,
 * never raw text (design §4).
 */
export interface StatsObservation {
  documentId: string;
  /**
   * Kafka offset of the source record (decimal string). When present, the window store applies
   * exactly the observations above the partition's stored offset, so a replayed batch that straddles
   * the last applied offset is counted once (batch boundaries may differ after a restart).
   */
  offset?: string;
  /** news or chat: the id space of documentId (the label join keeps them apart). */
  kind?: DocumentKind;
  eventTimeMs: number;
  /**
   * The input record's Kafka timestamp (epoch ms), when it has one: the event clock of a quiet
   * partition advances by the time between the records' own writes, not by processing time
   * (src/stats/event-time.ts recordNow).
   */
  recordTimeMs?: number;
  groups: GroupRef[];
  /**
   * The story the document belongs to (src/stats/story.ts: the id of the story's first document),
   * for kinds in stats.stories.kinds; the window store counts a story once per group of
   * stats.stories.dedupDimensions (docs/alerting.md "Surge"). Absent: the document is its own story.
   */
  storyId?: string;
  /**
   * What identifies the story across replicas (src/stats/shared-stories.ts): a digest of the
   * normalised text and its SimHash (null for texts too short to match but exactly). Hashes only.
   */
  storyFingerprint?: StoryFingerprint;
  label: SentimentLabel;
  pNeg: number;
  pPos: number;
  polarity: number;
  confidence: number;
  tokens: number;
  unknownTokens: number;
  truncated: boolean;
  /** Count of entities per type in this document. */
  entityTypes: Record<string, number>;
}

/** A delayed human label joined to a document (optional labels topic). */
export interface LabelObservation {
  documentId: string;
  /** Kafka offset of the label record (decimal string); same role as StatsObservation.offset. */
  offset?: string;
  eventTimeMs: number;
  groups: GroupRef[];
  predicted: SentimentLabel;
  actual: SentimentLabel;
}
