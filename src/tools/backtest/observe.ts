import type { ChatMessageRecord, NewsArticleRecord } from '../../codec/records.js';
import { SENTIMENT_LABELS, type SentimentLabel } from '../../domain/enrichment.js';
import type { GroupRef, StatsObservation } from '../../domain/observation.js';
import { ALL_DIMENSION, ALL_GROUP, sanitizeGroupValue, UNKNOWN_GROUP } from '../../stats/grouping.js';
import type { IssuerResolver } from '../../stats/issuer-master.js';
import { StoryDedup, StoryIndex } from '../../stats/story.js';
import type { ScenarioMessage } from '../scenarios/generate.js';
import type { Random } from '../scenarios/random.js';

/**
 * From a scenario document to what the window store records, without a model: the predicted label is
 * drawn from the document's true tone through a stated confusion (P(predicted = true) = accuracy,
 * the rest spread evenly), probabilities consistent with the predicted label. Grouping either as the
 * pipeline did before (`documents`: the NER ORG span and the cashtag are two issuer groups, every
 * document counts) or as built for news (`stories`: tickers and names resolve through the security
 * master to one issuer id, and a story counts once per issuer and ticker — docs/alerting.md "Surge").
 */

export interface SimulatedModel {
  /** P(predicted label = intended label). */
  accuracy: number;
}

export type GroupingMode = 'documents' | 'stories';

export interface ObserverOptions {
  model: SimulatedModel;
  mode: GroupingMode;
  resolver?: IssuerResolver;
  storyWindowMs: number;
  dedupDimensions: readonly string[];
  /** Document kinds stories are identified in (others are each their own story). */
  storyKinds: readonly string[];
}

function predict(truth: SentimentLabel, rng: Random, accuracy: number): SentimentLabel {
  if (rng.chance(accuracy)) return truth;
  const others = SENTIMENT_LABELS.filter((l) => l !== truth);
  return rng.pick(others);
}

function probabilities(label: SentimentLabel, rng: Random): Record<SentimentLabel, number> {
  const confidence = 0.5 + 0.45 * rng.float();
  const split = rng.float() * (1 - confidence);
  const [a, b] = SENTIMENT_LABELS.filter((l) => l !== label);
  return { [label]: confidence, [a!]: split, [b!]: 1 - confidence - split } as Record<SentimentLabel, number>;
}

function textOf(m: ScenarioMessage): string {
  if (m.topic === 'news') {
    const r = m.record as NewsArticleRecord;
    return `${r.headline}\n\n${r.body}`;
  }
  return (m.record as ChatMessageRecord).text;
}

export class Observer {
  private readonly stories = new StoryIndex();
  private readonly dedup: StoryDedup;
  private readonly dedupDimensions: Set<string>;
  /** Documents whose issuer mention resolved to no issuer (counted apart, never grouped). */
  unresolvedMentions = 0;
  duplicatesSkipped = 0;

  constructor(
    private readonly options: ObserverOptions,
    private readonly rng: Random,
  ) {
    this.dedup = new StoryDedup(options.storyWindowMs);
    this.dedupDimensions = new Set(options.dedupDimensions);
    if (options.mode === 'stories' && !options.resolver)
      throw new Error('stories mode needs a security master');
  }

  observe(m: ScenarioMessage, offset: number): StatsObservation {
    const label = predict(m.truth!, this.rng, this.options.model.accuracy);
    const p = probabilities(label, this.rng);
    const text = textOf(m);
    const tickers =
      m.topic === 'news' ? (m.record as NewsArticleRecord).tickers : (m.record as ChatMessageRecord).tickers;
    const groups: GroupRef[] = [
      { dimension: ALL_DIMENSION, value: ALL_GROUP },
      { dimension: 'kind', value: m.topic },
      {
        dimension: 'source',
        value: m.topic === 'news' ? (m.record as NewsArticleRecord).source : UNKNOWN_GROUP,
      },
      {
        dimension: 'platform',
        value: m.topic === 'chat' ? (m.record as ChatMessageRecord).platform : UNKNOWN_GROUP,
      },
      { dimension: 'region', value: m.issuer.region },
      { dimension: 'language', value: 'en' },
      ...this.issuerGroups(m, tickers, text),
    ];
    return {
      documentId: m.id,
      offset: String(offset),
      eventTimeMs: m.eventTimeMs,
      groups,
      label,
      pNeg: p.negative,
      pPos: p.positive,
      polarity: p.positive - p.negative,
      confidence: Math.max(p.negative, p.neutral, p.positive),
      tokens: Math.round(text.split(/\s+/).length * 1.35) + 2,
      unknownTokens: 0,
      truncated: false,
      entityTypes: { ORG: 1 },
    };
  }

  private issuerGroups(m: ScenarioMessage, tickers: readonly string[], text: string): GroupRef[] {
    const tickerGroups = tickers.map((t) => ({
      dimension: 'ticker',
      value: sanitizeGroupValue(t, { keepCase: true })!,
    }));
    if (this.options.mode === 'documents') {
      // The NER's ORG span: the full name in news, the cashtag (as its own ORG) in chat.
      const org = m.topic === 'news' ? m.issuer.name : (tickers[0] ?? m.issuer.ticker);
      return [...tickerGroups, { dimension: 'issuer', value: sanitizeGroupValue(org)! }];
    }
    const { issuers, unresolved } = this.options.resolver!.resolveDocument(
      tickers,
      m.topic === 'news' ? [m.issuer.name] : [],
    );
    this.unresolvedMentions += unresolved.length;
    // Stories are a news notion: chat lines are each one voice, and short template-like lines from
    // different people must not collapse into one (docs/alerting.md "Surge").
    const story = this.options.storyKinds.includes(m.topic)
      ? this.stories.assign(m.id, text, m.eventTimeMs)
      : m.id;
    const all = [...tickerGroups, ...issuers.map((id) => ({ dimension: 'issuer', value: id }))];
    return all.filter((g) => {
      if (!this.dedupDimensions.has(g.dimension)) return true;
      const first = this.dedup.admit(g.dimension, g.value, story, m.eventTimeMs);
      if (!first) this.duplicatesSkipped++;
      return first;
    });
  }
}
