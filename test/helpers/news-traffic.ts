import type { InputDocument } from '../../src/domain/documents.js';
import type { ScoredEnrichment, SentimentLabel } from '../../src/domain/enrichment.js';
import type { StatsObservation } from '../../src/domain/observation.js';
import type { StatsBatch } from '../../src/domain/windows.js';
import type { IssuerEntry } from '../../src/stats/issuer-master.js';
import { rng } from './fault-traffic.js';

/**
 * News traffic as the live pipeline sees it, for the surge tests (docs/alerting.md "Surge"): many
 * issuers with Zipf-skewed volume and their own negative rates; every story republished by
 * Poisson(λ) more outlets within minutes (verbatim wire copies, headline case varies, same tone and so
 * the same predicted label); the NER names an issuer by its name or alias, tickers sometimes, plus
 * fragments ("board"); records 2–4 minutes late, one far too late now and then, producer duplicates
 * (the same record again at a new offset), spread over input partitions by document id. Planted
 * events: a syndicated negative story (one story, many outlets, minutes apart) and a real surge (many
 * distinct negative stories about one issuer).
 */

const MINUTE = 60_000;
const OUTLETS = ['wire-a', 'wire-b', 'daily-c', 'times-d', 'post-e', 'journal-f', 'herald-g', 'ledger-h'];
const WORDS =
  'shares revenue guidance quarter margin outlook analysts investors board lawsuit merger dividend plant supply demand costs rates credit rating earnings profit loss forecast contract order regulator probe recall launch expansion layoffs strike output pricing market sector bonds debt cash buyback stake deal'.split(
    ' ',
  );

export interface TrafficIssuer {
  id: string;
  name: string;
  alias: string;
  ticker: string;
  region: string;
  /** Its own usual share of negative stories. */
  rate: number;
  /** Zipf volume weight. */
  weight: number;
}

export interface PlantedSyndication {
  issuer: number;
  atMinute: number;
  /** Outlets that carry the story (the original included). */
  outlets: number;
}

export interface PlantedSurge {
  issuer: number;
  fromMinute: number;
  minutes: number;
  /** Distinct negative stories per minute (each syndicated as usual). */
  storiesPerMinute: number;
}

export interface NewsTrafficOptions {
  seed: number;
  issuers: number;
  /** Mean original stories per minute (before republication). */
  storiesPerMinute: number;
  /** Mean extra outlets per story (Poisson). */
  lambda: number;
  partitions: number;
  syndicated?: PlantedSyndication;
  surge?: PlantedSurge;
}

/** One record as the pipeline hands it to the observation builder. */
export interface Delivery {
  doc: InputDocument;
  enrichment: ScoredEnrichment;
}

/** What the models would give a document: its label with p(negative) = pNeg, and ORG entities. */
export function scoredEnrichment(
  label: SentimentLabel,
  pNeg: number,
  orgs: readonly string[],
): ScoredEnrichment {
  const rest = (1 - pNeg) / 2;
  return {
    sentiment: {
      label,
      probabilities: { negative: pNeg, neutral: rest, positive: rest },
      polarity: rest - pNeg,
      confidence: Math.max(pNeg, rest),
      windows: 1,
      truncated: false,
      tokens: 48,
      unknownTokens: 0,
    },
    entities: orgs.map((o) => ({
      type: 'ORG',
      text: o,
      normalized: o.toLowerCase(),
      start: 0,
      end: o.length,
      score: 0.99,
    })),
    models: [],
  };
}

export function trafficIssuers(n: number, seed: number): TrafficIssuer[] {
  const rand = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: `ISS${String(i).padStart(4, '0')}`,
    name: `${WORDS[i % WORDS.length]!} ${['energy', 'bancorp', 'motors', 'foods', 'labs'][i % 5]} ${i} corp`,
    alias: `${WORDS[i % WORDS.length]!} ${['energy', 'bancorp', 'motors', 'foods', 'labs'][i % 5]} ${i}`,
    ticker: `T${i}X`,
    region: ['amer', 'emea', 'apac'][i % 3]!,
    rate: 0.08 + 0.22 * rand(),
    weight: 1 / Math.pow(i + 1, 1.1),
  }));
}

/** The security master of a traffic universe (what stats.issuers.file holds). */
export function masterOf(issuers: readonly TrafficIssuer[]): IssuerEntry[] {
  return issuers.map((i) => ({
    id: i.id,
    name: i.name,
    aliases: [i.alias],
    tickers: [i.ticker],
    region: i.region,
  }));
}

function poisson(rand: () => number, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  for (let p = rand(); p > limit; p *= rand()) k++;
  return k;
}

interface Story {
  id: number;
  issuer: TrafficIssuer;
  label: SentimentLabel;
  headline: string;
  body: string;
}

export class NewsTraffic {
  private readonly rand: () => number;
  private readonly totalWeight: number;
  /** Records waiting for their delivery minute: copies not yet published, late and duplicate records. */
  private readonly pending = new Map<number, Delivery[]>();
  private nextStory = 0;
  private nextDoc = 0;
  readonly offsets: number[];

  constructor(
    readonly issuers: readonly TrafficIssuer[],
    private readonly t0: number,
    private readonly options: NewsTrafficOptions,
  ) {
    this.rand = rng(options.seed);
    this.totalWeight = issuers.reduce((s, i) => s + i.weight, 0);
    this.offsets = Array.from({ length: options.partitions }, () => 0);
  }

  private pickIssuer(): TrafficIssuer {
    let x = this.rand() * this.totalWeight;
    for (const i of this.issuers) if ((x -= i.weight) <= 0) return i;
    return this.issuers[this.issuers.length - 1]!;
  }

  private story(issuer: TrafficIssuer, label?: SentimentLabel): Story {
    const tone: SentimentLabel =
      label ?? (this.rand() < issuer.rate ? 'negative' : this.rand() < 0.5 ? 'neutral' : 'positive');
    // The model reads every copy alike: one predicted label per story, right 90% of the time.
    const predicted = this.rand() < 0.9 ? tone : tone === 'negative' ? 'neutral' : 'negative';
    const id = this.nextStory++;
    const words = Array.from({ length: 30 }, () => WORDS[Math.floor(this.rand() * WORDS.length)]!);
    const figure = `${Math.floor(this.rand() * 900) + 100}.${id}`;
    return {
      id,
      issuer,
      label: predicted,
      headline: `${issuer.name} ${words.slice(0, 4).join(' ')} ${figure}`,
      body: `${issuer.name} said ${words.slice(4).join(' ')} at ${figure} million in story ${id}.`,
    };
  }

  private delivery(story: Story, outlet: string, eventTimeMs: number): Delivery {
    const id = `news-${this.nextDoc++}`;
    // Wire copies are verbatim; outlets restyle the headline's case.
    const headline = outlet.startsWith('wire') ? story.headline : story.headline.toUpperCase();
    const text = `${headline}\n\n${story.body}`;
    const mention = this.rand() < 0.3 ? story.issuer.alias : story.issuer.name;
    const orgs = [mention, ...(this.rand() < 0.2 ? ['board'] : [])];
    return {
      doc: {
        id,
        kind: 'news',
        eventTimeMs,
        text,
        attributes: {
          source: outlet,
          language: 'en',
          region: story.issuer.region,
          tickers: this.rand() < 0.5 ? [story.issuer.ticker] : [],
        },
        position: { topic: 'news.raw', partition: 0, offset: '0' },
        key: Buffer.from(id),
        headers: {},
      },
      enrichment: scoredEnrichment(story.label, story.label === 'negative' ? 0.8 : 0.1, orgs),
    };
  }

  private schedule(minute: number, d: Delivery): void {
    const list = this.pending.get(minute);
    if (list) list.push(d);
    else this.pending.set(minute, [d]);
  }

  /** Publishes a story at `atMs` and its republications within the next 3 minutes. */
  private publish(story: Story, atMs: number, outlets: number): void {
    const chosen = [...OUTLETS].sort(() => this.rand() - 0.5).slice(0, Math.min(outlets, OUTLETS.length));
    chosen.forEach((outlet, k) => {
      const t = k === 0 ? atMs : atMs + Math.floor(this.rand() * 3 * MINUTE);
      this.schedule(Math.floor((t - this.t0) / MINUTE), this.delivery(story, outlet, t));
    });
  }

  /** The records delivered during minute `m` (event time order within the minute, late ones after). */
  minute(m: number): Delivery[] {
    const start = this.t0 + m * MINUTE;
    const { syndicated, surge, lambda, storiesPerMinute } = this.options;
    const n = poisson(this.rand, storiesPerMinute);
    for (let k = 0; k < n; k++)
      this.publish(
        this.story(this.pickIssuer()),
        start + Math.floor(this.rand() * MINUTE),
        1 + poisson(this.rand, lambda),
      );
    if (syndicated && syndicated.atMinute === m)
      this.publish(this.story(this.issuers[syndicated.issuer]!, 'negative'), start, syndicated.outlets);
    if (surge && m >= surge.fromMinute && m < surge.fromMinute + surge.minutes)
      for (let k = 0; k < surge.storiesPerMinute; k++) {
        const story = this.story(this.issuers[surge.issuer]!, 'negative');
        this.publish(story, start + Math.floor(this.rand() * MINUTE), 1 + poisson(this.rand, lambda));
      }
    const due = (this.pending.get(m) ?? []).sort((a, b) => a.doc.eventTimeMs - b.doc.eventTimeMs);
    this.pending.delete(m);
    const out: Delivery[] = [];
    for (const d of due) {
      const r = this.rand();
      if (r < 0.04)
        this.schedule(m + 2 + Math.floor(this.rand() * 3), d); // 2–4 minutes late
      else out.push(d);
      if (r > 0.98) this.schedule(m + 1, d); // a producer retry: the same record again
    }
    // Now and then a record 20 minutes late (beyond the allowed lateness: refused, on the late topic).
    if (m % 17 === 16 && out.length > 0)
      out.push({ ...out[0]!, doc: { ...out[0]!.doc, id: `late-${m}`, eventTimeMs: start - 20 * MINUTE } });
    return out;
  }
}

/**
 * A minute's deliveries as the pipeline's statistics batches: spread over partitions by document id
 * (the Kafka key), offsets per partition, observations from `build` with the record's offset.
 */
export function batchesOf(
  deliveries: readonly Delivery[],
  offsets: number[],
  build: (doc: InputDocument, enrichment: ScoredEnrichment) => StatsObservation | null,
): StatsBatch[] {
  const byPartition = new Map<number, StatsObservation[]>();
  for (const { doc, enrichment } of deliveries) {
    let h = 0;
    for (const c of doc.id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    const partition = h % offsets.length;
    const offset = String(offsets[partition]!++);
    const positioned = { ...doc, position: { topic: 'news.raw', partition, offset } };
    const observation = build(positioned, enrichment);
    if (!observation) continue;
    const list = byPartition.get(partition) ?? [];
    list.push({ ...observation, offset });
    byPartition.set(partition, list);
  }
  return [...byPartition].map(([partition, observations]) => ({
    partitionKey: `news.raw:${partition}`,
    lastOffset: observations[observations.length - 1]!.offset!,
    observations,
    labels: [],
  }));
}

/** Background traffic of the surge tests (test/unit/alerts/memory/alerting-surge.test.ts, test/integration/surge-live.test.ts). */
export const SURGE_TRAFFIC: Omit<NewsTrafficOptions, 'syndicated' | 'surge'> = {
  seed: 18,
  issuers: 150,
  storiesPerMinute: 40,
  lambda: 0.3,
  partitions: 3,
};
/** Minutes of history before the planted events (the surge rule's own reference). */
export const HISTORY_MINUTES = 120;
/** Issuer ranks (Zipf: rank 0 the busiest) and times of the planted events. */
export const SYNDICATED: PlantedSyndication = { issuer: 8, atMinute: HISTORY_MINUTES + 10, outlets: 6 };
export const SURGE: PlantedSurge = {
  issuer: 14,
  fromMinute: HISTORY_MINUTES + 25,
  minutes: 12,
  storiesPerMinute: 3,
};
