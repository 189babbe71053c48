/** JS shapes of the contract schemas as avsc decodes them (timestamps are epoch-ms numbers). */

export interface NewsArticleRecord {
  id: string;
  source: string;
  published_at: number;
  headline: string;
  body: string;
  language: string;
  tickers: string[];
  region: string | null;
  sector: string | null;
  url: string | null;
}

export interface ChatMessageRecord {
  id: string;
  platform: string;
  channel: string;
  author_id: string;
  sent_at: number;
  text: string;
  language: string;
  tickers: string[];
  region: string | null;
}

export interface LabelRecord {
  document_id: string;
  label: 'negative' | 'neutral' | 'positive';
  labeller: string;
  labelled_at: number;
  document_event_time: number | null;
  document_kind: 'news' | 'chat' | null;
}

export interface EnrichedDocumentRecord {
  id: string;
  kind: 'news' | 'chat';
  event_time: number;
  input: { topic: string; partition: number; offset: number };
  attributes: {
    source: string | null;
    platform: string | null;
    channel: string | null;
    language: string;
    region: string | null;
    sector: string | null;
    tickers: string[];
    author_pseudonym: string | null;
    url: string | null;
  };
  groups: Array<{ dimension: string; value: string }>;
  /** null when the document's language has no model (unscored_reason). */
  sentiment: {
    label: 'negative' | 'neutral' | 'positive';
    probabilities: { negative: number; neutral: number; positive: number };
    polarity: number;
    confidence: number;
    windows: number;
    truncated: boolean;
    tokens: number;
    unknown_tokens: number;
  } | null;
  entities: Array<{
    type: string;
    text: string;
    normalized: string;
    start: number;
    end: number;
    score: number;
  }>;
  models: Array<{ task: 'sentiment' | 'ner'; name: string; version: string; sha256: string }>;
  processing_latency_ms: number;
  processed_at: number;
  pipeline_version: string;
  language_routing: { language: string; source: string } | null;
  unscored_reason: string | null;
  /** The document's story (docs/alerting.md "Surge"); null outside stats.stories.kinds. */
  story_id?: string | null;
}
