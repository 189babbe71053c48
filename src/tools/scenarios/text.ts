import type { SentimentLabel } from '../../domain/enrichment.js';
import {
  BODY_SENTENCES,
  CHAT_TEMPLATES,
  CLIENTS,
  DRIFT_CHAT_SUFFIXES,
  DRIFT_SENTENCES,
  HEADLINES,
  LONG_BACKGROUND,
  MONTHS,
  QUARTERS,
  type TemplateSet,
} from './phrases.js';
import type { Random } from './random.js';
import { BROKERS, ISSUERS, PEOPLE, type Issuer } from './universe.js';

/** Knobs of text shape that scenarios move over time (the `drift` scenario shifts all of them). */
export interface TextStyle {
  /** Probability that a news body is long (20-30 sentences, some ~1,500 tokens). */
  longBodyShare: number;
  /** Probability that a sentence/chat message uses the drift vocabulary. */
  driftVocabularyShare: number;
}

export const DEFAULT_TEXT_STYLE: TextStyle = { longBodyShare: 0.08, driftVocabularyShare: 0 };

const SLOT = /\{([a-z0-9]+)\}/g;

/** Slots that name an organisation other than the issuer (the NER tags them ORG too). */
const OTHER_ORG_SLOT = /\{(broker|exchange|client)\}/;
const soloCache = new Map<readonly string[], readonly string[]>();

/** Pick a template; with `soloOrg`, only templates that name no other organisation. */
export function pickTemplate(templates: readonly string[], rng: Random, soloOrg: boolean): string {
  if (!soloOrg) return rng.pick(templates);
  let solo = soloCache.get(templates);
  if (!solo) {
    solo = templates.filter((t) => !OTHER_ORG_SLOT.test(t));
    soloCache.set(templates, solo);
  }
  return rng.pick(solo);
}

function formatDate(rng: Random, eventTimeMs: number): string {
  // A date within the next ~8 weeks of the event, written like wire copy: "14 March".
  const d = new Date(eventTimeMs + rng.int(2, 56) * 86_400_000);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
}

/** Fill a template's slots for one issuer; every slot value is drawn from `rng`. */
export function fillTemplate(template: string, issuer: Issuer, rng: Random, eventTimeMs: number): string {
  return template.replace(SLOT, (_m, slot: string) => {
    switch (slot) {
      case 'name':
        return issuer.name;
      case 'short':
        // Later mentions repeat the full name: a short form ("Northwind") would be tagged as a second
        // ORG and split the issuer over two `issuer` groups, blurring what the ground truth names.
        return issuer.name;
      case 'ticker':
        return issuer.ticker;
      case 'ticker2': {
        let other = rng.pick(ISSUERS);
        if (other.ticker === issuer.ticker) other = ISSUERS[(ISSUERS.indexOf(other) + 1) % ISSUERS.length]!;
        return `$${other.ticker}`;
      }
      case 'pct':
        return String(rng.int(3, 24) + (rng.chance(0.5) ? rng.int(1, 9) / 10 : 0));
      case 'amount':
        return (rng.int(5, 2_400) / 10).toFixed(1);
      case 'amount2':
        return (rng.int(5, 2_400) / 10).toFixed(1);
      case 'cur':
        return issuer.currency;
      case 'broker':
        return rng.pick(BROKERS);
      case 'person':
        return rng.pick(PEOPLE);
      case 'date':
        return formatDate(rng, eventTimeMs);
      case 'quarter':
        return rng.pick(QUARTERS);
      case 'month':
        return rng.pick(MONTHS);
      case 'city':
        return issuer.city;
      case 'exchange':
        return issuer.exchange;
      case 'n':
        return String(rng.int(12, 95));
      case 'n2':
        return String(rng.int(10, 99));
      case 'price':
        return `${rng.int(8, 420)}`;
      case 'url':
        return `https://finsentry.example/n/${rng.hex(4)}`;
      case 'client':
        return rng.pick(CLIENTS);
      case 'year':
        return String(new Date(eventTimeMs).getUTCFullYear() - 1);
      case 'time':
        return `${rng.int(8, 17)}:${rng.pick(['00', '15', '30', '45'])}`;
      default:
        throw new Error(`unknown template slot {${slot}}`);
    }
  });
}

export interface NewsText {
  headline: string;
  body: string;
}

/** What an article is written from: one language's templates, its slot filler, its sentence joiner. */
export interface ArticleKit {
  headlines: TemplateSet;
  body: TemplateSet;
  /** Long neutral background sentences for long articles. */
  background: readonly string[];
  fill: (template: string) => string;
  /** Between the sentences of a paragraph: a space in English, nothing in Chinese. */
  sentenceSeparator: string;
}

/**
 * A news article with the intended label. Polar articles (negative/positive) mix sentiment-bearing
 * sentences with neutral ones, at least 60% polar so that the aggregated prediction stays polar even
 * over many token windows; neutral articles contain only neutral sentences.
 */
export function composeArticle(
  label: SentimentLabel,
  kit: ArticleKit,
  rng: Random,
  style: TextStyle,
  soloOrg = false,
): NewsText {
  const headline = kit.fill(pickTemplate(kit.headlines[label], rng, soloOrg));
  const long = rng.chance(style.longBodyShare);
  const sentences = long ? rng.int(20, 30) : rng.int(3, 9);
  const polarShare = label === 'neutral' ? 0 : 0.65;
  const out: string[] = [];
  const used = new Set<string>();
  // Wire copy does not repeat a sentence: redraw (a few times) a template already used in this article.
  const fresh = (templates: readonly string[]): string => {
    let template = pickTemplate(templates, rng, soloOrg);
    for (let tries = 0; used.has(template) && tries < 4; tries++)
      template = pickTemplate(templates, rng, soloOrg);
    used.add(template);
    return kit.fill(template);
  };
  for (let i = 0; i < sentences; i++) {
    if (style.driftVocabularyShare > 0 && rng.chance(style.driftVocabularyShare)) {
      out.push(fresh(DRIFT_SENTENCES));
    } else if (i === 0 || rng.chance(polarShare)) {
      // The first sentence always restates the headline's tone, as wire copy does.
      out.push(fresh(kit.body[label]));
    } else if (long && rng.chance(0.6)) {
      out.push(fresh(kit.background));
    } else {
      out.push(fresh(kit.body.neutral));
    }
  }
  // Paragraphs of 2-4 sentences, as in wire copy.
  const paragraphs: string[] = [];
  for (let i = 0; i < out.length;) {
    const n = rng.int(2, 4);
    paragraphs.push(out.slice(i, i + n).join(kit.sentenceSeparator));
    i += n;
  }
  return { headline, body: paragraphs.join('\n\n') };
}

export function writeNews(
  label: SentimentLabel,
  issuer: Issuer,
  rng: Random,
  eventTimeMs: number,
  style: TextStyle,
  soloOrg = false,
): NewsText {
  const kit: ArticleKit = {
    headlines: HEADLINES,
    body: BODY_SENTENCES,
    background: LONG_BACKGROUND,
    fill: (template) => fillTemplate(template, issuer, rng, eventTimeMs),
    sentenceSeparator: ' ',
  };
  return composeArticle(label, kit, rng, style, soloOrg);
}

export function writeChat(
  label: SentimentLabel,
  issuer: Issuer,
  rng: Random,
  eventTimeMs: number,
  style: TextStyle,
  soloOrg = false,
): string {
  let text = fillTemplate(pickTemplate(CHAT_TEMPLATES[label], rng, soloOrg), issuer, rng, eventTimeMs);
  if (style.driftVocabularyShare > 0 && rng.chance(style.driftVocabularyShare)) {
    text += fillTemplate(rng.pick(DRIFT_CHAT_SUFFIXES), issuer, rng, eventTimeMs);
  }
  return text;
}

/** Tickers a chat text mentions ($XYZ), in order, without duplicates. */
export function cashtags(text: string): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(/\$([A-Z]{2,6})\b/g)) found.add(m[1]!);
  return [...found];
}
