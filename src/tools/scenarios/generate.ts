import type { AlertRuleConfig } from '../../config/schema.js';
import type { RejectReason } from '../../codec/reasons.js';
import type { ChatMessageRecord, LabelRecord, NewsArticleRecord } from '../../codec/records.js';
import { SENTIMENT_LABELS, type SentimentLabel } from '../../domain/enrichment.js';
import { encodeLabel, encodeRecord, type InputRecord, type ScenarioSchemaIds } from './encoding.js';
import { expectedAlertsFor, toleratedAlertsFor } from './expectations.js';
import type {
  GroundTruth,
  InjectedEvent,
  InputTopic,
  PoisonKind,
  ScenarioName,
  ScenarioTopic,
} from './ground-truth.js';
import {
  buildPoison,
  DEFAULT_POISON_LIMITS,
  infeasiblePoisonKinds,
  POISON_KINDS,
  type PoisonLimits,
} from './poison.js';
import { Random } from './random.js';
import {
  diurnalFactor,
  issuerRateMultipliers,
  lightRewrite,
  MinHeap,
  poisson,
  resolveRealism,
  zipfWeights,
  type RealismOptions,
} from './realism.js';
import { cashtags, DEFAULT_TEXT_STYLE, writeChat, writeNews, type TextStyle } from './text.js';
import {
  CHAT_PLATFORMS,
  DRIFT_SOURCE,
  ISSUERS,
  issuerAliases,
  issuerGroup,
  NEWS_SOURCE_WEIGHTS,
  REGION_WEIGHTS,
  REGIONS,
  syntheticIssuer,
  ZH_REGIONS,
  type Issuer,
  type MarketRegion,
  type Region,
} from './universe.js';
import {
  selectChineseUniverse,
  ZH_CHAT_PLATFORMS,
  ZH_NEWS_SOURCE_WEIGHTS,
  ZH_REGION_WEIGHTS,
} from './universe-zh.js';
import {
  chineseLanguageTag,
  lightRewriteChinese,
  producerSymbol,
  writeChineseChat,
  writeChineseNews,
} from './text-zh.js';

/**
 * Deterministic synthetic traffic with known injected events (design §11). A run is a Poisson stream
 * of documents in event time, `ratePerSecond` per second of event time, from startMs to
 * startMs + durationMs. Messages are produced lazily (an iterator), so runs of any length use
 * constant memory; only the expected dead letters (a small share) are kept for the ground truth.
 *
 * Independent random streams (text, poison, framing/headers) keep scenarios comparable: the
 * `poison` run with seed S is the `clean` run with seed S with some slots replaced by malformed
 * messages, and `issuer-surge` differs from `clean` only where the surge changes a draw.
 */

export interface SurgeOptions {
  /** Ticker of the issuer whose negative coverage surges. */
  ticker: string;
  fromMs: number;
  toMs: number;
  /** Linear ramp up after fromMs and down before toMs. */
  rampMs: number;
  /** Coverage of the issuer at the peak, as a multiple of its normal share of its region's traffic. */
  peakMultiplier: number;
  /** Share of the issuer's documents that are negative at the peak. */
  peakNegativeShare: number;
}

export interface BiasOptions {
  region: Region;
  /** Negative share of documents about the region (others keep the baseline). */
  negativeShare: number;
  /**
   * Alternative to negativeShare: the true disparate impact ratio wanted (baseline / region share),
   * e.g. 0.9 for a compliant gap (no alert expected at the four-fifths threshold) or 0.6 for a violation.
   */
  disparateImpact?: number;
  fromMs: number;
  toMs: number;
}

export interface DriftOptions {
  /** The shift starts at fromMs and is complete at toMs; it then stays (a new regime). */
  fromMs: number;
  toMs: number;
  /** Values reached at full drift. */
  longBodyShare: number;
  driftVocabularyShare: number;
  newsShare: number;
  /** Share of news from the new aggregator source. */
  newSourceShare: number;
}

export interface PoisonOptions {
  share: number;
  kinds: readonly PoisonKind[];
}

export interface ScenarioOptions {
  name: ScenarioName;
  seed: number;
  startMs: number;
  durationMs: number;
  /** Documents per second of event time (the replay's wall-clock rate divided by its speedup). */
  ratePerSecond: number;
  /** Issuers in play (first N of the universe, interleaved by region); fewer issuers = more documents each. */
  universeSize?: number;
  /** Share of news among documents (the rest is chat); default 0.4. */
  newsShare?: number;
  /** Schema ids for Confluent framing; without them every value is plain Avro. */
  schemaIds?: ScenarioSchemaIds;
  /** Share of Confluent-framed values when schema ids are given; default 0.5. */
  confluentShare?: number;
  surge?: Partial<SurgeOptions>;
  bias?: Partial<BiasOptions>;
  drift?: Partial<DriftOptions>;
  poison?: Partial<PoisonOptions>;
  limits?: Partial<PoisonLimits>;
  /**
   * Delayed human labels: a `share` of well-formed documents gets its intended sentiment published on
   * the labels topic, `delayMs` (±50%, event time) after the document; enables the accuracy-based
   * fairness metrics (design §5). Off by default.
   */
  labels?: { share: number; delayMs?: number; labeller?: string };
  /** Alert rules the expectations are derived from; default: the shipped default rules. */
  rules?: readonly AlertRuleConfig[];
  /**
   * Traffic as real news has it (syndication, Zipf volume, issuer base rates, daily cycle, late and
   * future records, coverage bursts): src/tools/scenarios/realism.ts. Every knob defaults to off.
   */
  realism?: Partial<RealismOptions>;
  /**
   * Chinese-language traffic (src/tools/scenarios/universe-zh.ts): `share` of the documents are
   * Chinese news and 股吧/雪球 chat about Chinese issuers; `surge` plants a surge on one of them (false:
   * none). Defaults per scenario: off except `zh-surge` (share 0.5, surge on 600519.SH).
   */
  zh?: { share?: number; universeSize?: number; surge?: Partial<SurgeOptions> | false };
  /**
   * The languages the service's models read (its models.languages): an effect planted in documents of
   * another language expects no alert (they are unscored). Absent or empty: every language is read.
   */
  scoredLanguages?: readonly string[];
}

export interface ScenarioMessage {
  /** news/chat documents; `labels` for delayed human labels (when enabled). */
  topic: ScenarioTopic;
  /** Kafka key: the document id (poison included, so dead letters can be matched by key). */
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  eventTimeMs: number;
  id: string;
  /** Intended sentiment of a well-formed document; null for poison. Never part of the message. */
  truth: SentimentLabel | null;
  /** DLQ reason a poison message must get; null for well-formed documents. */
  poison: RejectReason | null;
  framing: 'plain' | 'confluent';
  /** The record before encoding (for poison: the well-formed record it was derived from). */
  record: InputRecord | LabelRecord;
  issuer: Issuer;
  /** Story the document tells (the id of its first publication); republications share it. Truth only. */
  storyId: string;
  /** When the record reaches the input topic (event time clock): eventTimeMs + delay, or earlier for a future stamp. */
  arrivalMs: number;
}

export interface ScenarioRun {
  /** Filled in while `messages` is iterated; `complete` is true after the last message. */
  truth: GroundTruth;
  /** One-shot iterator over the run's messages in event-time order. */
  messages: IterableIterator<ScenarioMessage>;
}

/** Baseline intended label mix; deliberately low-negative so that noise stays far from the 0.5 surge threshold. */
export const BASELINE_MIX: Readonly<Record<SentimentLabel, number>> = {
  negative: 0.18,
  neutral: 0.5,
  positive: 0.32,
};

interface ScenarioEffects {
  surge: boolean;
  bias: boolean;
  drift: boolean;
  poisonShare: number;
  /** Share of documents from the Chinese-language market (zh.share overrides it). */
  zhShare: number;
  /** A surge on a Chinese issuer (zh.surge overrides it). */
  zhSurge: boolean;
}

const NO_ZH = { zhShare: 0, zhSurge: false };
const SCENARIO_EFFECTS: Record<ScenarioName, ScenarioEffects> = {
  clean: { surge: false, bias: false, drift: false, poisonShare: 0, ...NO_ZH },
  'issuer-surge': { surge: true, bias: false, drift: false, poisonShare: 0, ...NO_ZH },
  'region-bias': { surge: false, bias: true, drift: false, poisonShare: 0, ...NO_ZH },
  drift: { surge: false, bias: false, drift: true, poisonShare: 0, ...NO_ZH },
  poison: { surge: false, bias: false, drift: false, poisonShare: 0.08, ...NO_ZH },
  mixed: { surge: true, bias: true, drift: false, poisonShare: 0.01, ...NO_ZH },
  // Mixed zh/en traffic, a negative surge on one Chinese issuer (金融舆情监测, issue 15).
  'zh-surge': { surge: false, bias: false, drift: false, poisonShare: 0, zhShare: 0.5, zhSurge: true },
};

/** The first `n` issuers, interleaved by region so that every region keeps issuers. */
export function selectUniverse(n: number | undefined): Issuer[] {
  if (n !== undefined && n > ISSUERS.length)
    return [...ISSUERS, ...Array.from({ length: n - ISSUERS.length }, (_, k) => syntheticIssuer(k))];
  if (n === undefined || n >= ISSUERS.length) return [...ISSUERS];
  if (n < REGIONS.length)
    throw new Error(`universeSize must be at least ${REGIONS.length} (one issuer per region)`);
  const byRegion = REGIONS.map((r) => ISSUERS.filter((i) => i.region === r));
  const out: Issuer[] = [];
  for (let k = 0; out.length < n; k++) {
    for (const list of byRegion) if (list[k] && out.length < n) out.push(list[k]!);
  }
  return out;
}

function lerp(a: number, b: number, t: number): number {
  return a + (b - a) * t;
}

/** 0 before fromMs, ramping to 1, 1 on the plateau, ramping down to 0 at toMs. */
export function surgeIntensity(s: SurgeOptions, t: number): number {
  if (t < s.fromMs || t >= s.toMs) return 0;
  const ramp = Math.max(1, s.rampMs);
  return Math.min(1, (t - s.fromMs) / ramp, (s.toMs - t) / ramp);
}

export function driftProgress(d: DriftOptions, t: number): number {
  if (t <= d.fromMs) return 0;
  if (t >= d.toMs) return 1;
  return (t - d.fromMs) / (d.toMs - d.fromMs);
}

function mixWithNegative(negative: number): Record<SentimentLabel, number> {
  const rest = 1 - negative;
  const nonNeg = BASELINE_MIX.neutral + BASELINE_MIX.positive;
  return {
    negative,
    neutral: (rest * BASELINE_MIX.neutral) / nonNeg,
    positive: (rest * BASELINE_MIX.positive) / nonNeg,
  };
}

/** The issuers one stream of documents is about: their coverage, their tone, a surge among them. */
interface Market {
  universe: Issuer[];
  byRegion: Map<MarketRegion, Issuer[]>;
  regionWeights: Array<readonly [MarketRegion, number]>;
  surge: SurgeOptions | null;
  surgeIssuer: Issuer | null;
  bias: BiasOptions | null;
  realism: RealismOptions;
  /** Relative coverage of each issuer (Zipf weight; 1 each without realism). */
  volume: Map<Issuer, number>;
  /** Multiplier of the base negative rate per issuer (1 each without realism). */
  rateMultiplier: Map<Issuer, number>;
  bursts: CoverageBurst[];
}

/** The Chinese-language market (universe-zh.ts) and its share of the documents. */
interface ChineseMarket extends Market {
  share: number;
}

interface ResolvedPlan extends Market {
  drift: DriftOptions | null;
  poison: PoisonOptions;
  feasiblePoison: PoisonKind[];
  limits: PoisonLimits;
  newsShare: number;
  confluentShare: number;
  schemaIds: ScenarioSchemaIds;
  zh: ChineseMarket | null;
}

interface CoverageBurst {
  issuer: Issuer;
  fromMs: number;
  toMs: number;
  multiplier: number;
}

function resolvePlan(o: ScenarioOptions): {
  plan: ResolvedPlan;
  injected: InjectedEvent[];
  skipped: GroundTruth['skippedPoisonKinds'];
} {
  if (!(o.durationMs > 0)) throw new Error('durationMs must be positive');
  if (!(o.ratePerSecond > 0)) throw new Error('ratePerSecond must be positive');
  const effects = SCENARIO_EFFECTS[o.name];
  if (!effects) throw new Error(`unknown scenario ${String(o.name)}`);
  const start = o.startMs;
  const end = o.startMs + o.durationMs;
  const D = o.durationMs;
  const universe = selectUniverse(o.universeSize);
  if (o.surge?.ticker && !universe.some((i) => i.ticker === o.surge!.ticker)) {
    throw new Error(`surge ticker ${o.surge.ticker} is not in the universe of this run`);
  }
  const injected: InjectedEvent[] = [];
  const realism = resolveRealism(o.realism);
  const regions = REGIONS.map((r) => [r, REGION_WEIGHTS[r]] as const);
  const market = buildMarket(universe, regions, realism, Random.fromSeed(o.seed).fork(7), start, end);
  for (const b of market.bursts) injected.push(burstEvent(b));

  let surge: SurgeOptions | null = null;
  let surgeIssuer: Issuer | null = null;
  let surgeEvent: InjectedEvent | null = null;
  if (effects.surge) {
    const fallback = universe.find((i) => i.ticker === 'NWEC') ?? universe.find((i) => i.region === 'amer')!;
    ({ surge, surgeIssuer, event: surgeEvent } = planSurge(o.surge, universe, fallback, start, D, injected));
  }

  const bias = effects.bias ? planBias(o.bias, start, end, market.byRegion, injected) : null;
  const newsShare = o.newsShare ?? 0.4;
  const drift = effects.drift ? planDrift(o.drift, start, D, newsShare, injected) : null;
  const { poison, limits, schemaIds, feasiblePoison, skipped } = planPoison(o, effects, start, end, injected);

  if (surge && surgeIssuer && surgeEvent) capSurge({ ...market, surge, surgeIssuer, bias }, surgeEvent);
  const zh = resolveChineseMarket(o, effects, realism, injected);
  markUnscored(injected, o.scoredLanguages);

  const confluentShare =
    schemaIds.news !== undefined && schemaIds.chat !== undefined ? (o.confluentShare ?? 0.5) : 0;
  return {
    plan: {
      ...market,
      surge,
      surgeIssuer,
      bias,
      drift,
      poison,
      feasiblePoison,
      limits,
      newsShare,
      confluentShare,
      schemaIds,
      zh,
    },
    injected,
    skipped,
  };
}

/** The bias of the `bias` scenario: one region phrased negatively more often than the others. */
function planBias(
  o: Partial<BiasOptions> | undefined,
  start: number,
  end: number,
  byRegion: ReadonlyMap<string, readonly Issuer[]>,
  injected: InjectedEvent[],
): BiasOptions {
  const bias: BiasOptions = {
    region: o?.region ?? 'apac',
    negativeShare:
      o?.negativeShare ??
      (o?.disparateImpact !== undefined ? BASELINE_MIX.negative / o.disparateImpact : 0.3),
    fromMs: o?.fromMs ?? start,
    toMs: o?.toMs ?? end,
  };
  if (!byRegion.get(bias.region)?.length)
    throw new Error(`bias region ${bias.region} has no issuers in this universe`);
  injected.push({
    kind: 'bias',
    description: `documents about region ${bias.region} are phrased negatively ${bias.negativeShare} of the time vs ${BASELINE_MIX.negative} elsewhere`,
    fromMs: bias.fromMs,
    toMs: bias.toMs,
    groups: [{ dimension: 'region', group: bias.region }],
    params: {
      negativeShare: bias.negativeShare,
      baselineNegativeShare: BASELINE_MIX.negative,
      expectedDisparateImpact: BASELINE_MIX.negative / bias.negativeShare,
    },
  });
  return bias;
}

/** The gradual drift of the `drift` scenario: longer bodies, new vocabulary, more news, a new source. */
function planDrift(
  o: Partial<DriftOptions> | undefined,
  start: number,
  D: number,
  newsShare: number,
  injected: InjectedEvent[],
): DriftOptions {
  const drift: DriftOptions = {
    fromMs: o?.fromMs ?? start + Math.round(0.35 * D),
    toMs: o?.toMs ?? start + Math.round(0.75 * D),
    longBodyShare: o?.longBodyShare ?? 0.6,
    driftVocabularyShare: o?.driftVocabularyShare ?? 0.35,
    newsShare: o?.newsShare ?? 0.6,
    newSourceShare: o?.newSourceShare ?? 0.5,
  };
  injected.push({
    kind: 'drift',
    description: `gradual shift: long news bodies ${DEFAULT_TEXT_STYLE.longBodyShare} -> ${drift.longBodyShare}, new vocabulary 0 -> ${drift.driftVocabularyShare}, news share ${newsShare} -> ${drift.newsShare}, new source ${DRIFT_SOURCE} 0 -> ${drift.newSourceShare} of news; intended sentiment unchanged`,
    fromMs: drift.fromMs,
    toMs: drift.toMs,
    groups: [],
    // Named as the drift features of src/stats/drift.ts (alert rules match on these names). Not
    // truncation_rate: the longest bodies (~1,500 tokens) stay far below models.maxWindows windows.
    features: ['tokens', 'unknown_token_rate', 'source_mix', 'kind_mix'],
    params: { ...drift, heldUntilEnd: true },
  });
  return drift;
}

/** The malformed messages: their share and the kinds feasible under the limits (the others skipped). */
function planPoison(
  o: ScenarioOptions,
  effects: ScenarioEffects,
  start: number,
  end: number,
  injected: InjectedEvent[],
): Pick<ResolvedPlan, 'poison' | 'limits' | 'schemaIds' | 'feasiblePoison'> & {
  skipped: GroundTruth['skippedPoisonKinds'];
} {
  const limits: PoisonLimits = { ...DEFAULT_POISON_LIMITS, ...o.limits };
  const schemaIds = o.schemaIds ?? {};
  const infeasible = infeasiblePoisonKinds(limits, schemaIds);
  const poison: PoisonOptions = {
    share: o.poison?.share ?? effects.poisonShare,
    kinds: o.poison?.kinds ?? POISON_KINDS,
  };
  const skipped =
    poison.share > 0
      ? poison.kinds.filter((k) => infeasible.has(k)).map((k) => ({ kind: k, why: infeasible.get(k)! }))
      : [];
  const feasiblePoison = poison.kinds.filter((k) => !infeasible.has(k));
  if (poison.share > 0 && feasiblePoison.length === 0)
    throw new Error('no feasible poison kind under these limits');
  if (poison.share > 0) {
    injected.push({
      kind: 'poison',
      description: `${poison.share} of messages are malformed (${feasiblePoison.join(', ')})`,
      fromMs: start,
      toMs: end,
      groups: [],
      params: { share: poison.share, kinds: feasiblePoison.join(',') },
    });
  }
  return { poison, limits, schemaIds, feasiblePoison, skipped };
}

/** A market of `universe` with its regions' weights, Zipf volume, issuer base rates and coverage bursts. */
function buildMarket(
  universe: Issuer[],
  regions: ReadonlyArray<readonly [MarketRegion, number]>,
  realism: RealismOptions,
  rng: Random,
  start: number,
  end: number,
): Omit<Market, 'surge' | 'surgeIssuer' | 'bias'> {
  const byRegion = new Map<MarketRegion, Issuer[]>(
    regions.map(([r]) => [r, universe.filter((i) => i.region === r)]),
  );
  const regionWeights = regions.filter(([r]) => byRegion.get(r)!.length > 0);
  const zipf = zipfWeights(universe.length, realism.zipfExponent);
  const volume = new Map(universe.map((i, k) => [i, zipf[k]!] as const));
  const rateMultiplier = issuerRateMultipliers(
    universe,
    volume,
    rng,
    BASELINE_MIX.negative,
    realism.issuerRateConcentration,
  );
  const bursts = planBursts(realism, universe, rng, start, end);
  return { universe, byRegion, regionWeights, realism, volume, rateMultiplier, bursts };
}

/** The surge of one market (defaults: 45%–70% of the run, 4x coverage, 0.75 negative) and its event. */
function planSurge(
  o: Partial<SurgeOptions> | undefined,
  universe: readonly Issuer[],
  fallback: Issuer,
  start: number,
  D: number,
  injected: InjectedEvent[],
): { surge: SurgeOptions; surgeIssuer: Issuer; event: InjectedEvent } {
  const ticker = o?.ticker ?? fallback.ticker;
  const surgeIssuer = universe.find((i) => i.ticker === ticker)!;
  const surge: SurgeOptions = {
    ticker,
    fromMs: o?.fromMs ?? start + Math.round(0.45 * D),
    toMs: o?.toMs ?? start + Math.round(0.7 * D),
    rampMs: o?.rampMs ?? Math.min(Math.round(0.04 * D), 300_000),
    peakMultiplier: o?.peakMultiplier ?? 4,
    peakNegativeShare: o?.peakNegativeShare ?? 0.75,
  };
  if (surge.toMs - surge.fromMs < 2 * surge.rampMs) throw new Error('surge shorter than its two ramps');
  const code = surgeIssuer.language === 'zh' ? ticker : `$${ticker}`;
  const event: InjectedEvent = {
    kind: 'surge',
    description: `negative news and chat about ${surgeIssuer.name} (${code}) ramp up to ${surge.peakNegativeShare} negative at up to ${surge.peakMultiplier}x coverage (see params.peakMultiplier), then subside; other ${surgeIssuer.region} issuers get fewer negatives so that the region's negative share stays put (see params)`,
    fromMs: surge.fromMs,
    toMs: surge.toMs,
    groups: [
      { dimension: 'issuer', group: issuerGroup(surgeIssuer), aliases: issuerAliases(surgeIssuer) },
      { dimension: 'ticker', group: ticker },
    ],
    params: {
      rampMs: surge.rampMs,
      peakMultiplier: surge.peakMultiplier,
      peakNegativeShare: surge.peakNegativeShare,
      baselineNegativeShare: BASELINE_MIX.negative,
      ...(surgeIssuer.language ? { language: surgeIssuer.language } : {}),
    },
  };
  injected.push(event);
  return { surge, surgeIssuer, event };
}

/**
 * Caps the surge's coverage multiplier at the largest one the issuer's regional peers can offset on
 * their own (peers at the floor); beyond it the whole market would have to turn negative. Small
 * universes get 1. Records the peak figures on the surge's event.
 */
function capSurge(market: Market & { surge: SurgeOptions; surgeIssuer: Issuer }, event: InjectedEvent): void {
  const { surge, surgeIssuer } = market;
  const r0 = regionBaseShare(market, surgeIssuer.region, surge.fromMs + surge.rampMs);
  const peak0 = Math.max(r0, surge.peakNegativeShare);
  const f = regionVolumeFraction(market, surgeIssuer);
  const qMax = (r0 - COMPENSATION_FLOOR) / (peak0 - COMPENSATION_FLOOR);
  const mMax = qMax >= 1 ? Number.POSITIVE_INFINITY : (qMax * (1 - f)) / (f * (1 - qMax));
  event.params.requestedPeakMultiplier = surge.peakMultiplier;
  surge.peakMultiplier = Math.max(1, Math.min(surge.peakMultiplier, Math.floor(mMax * 100) / 100));
  event.params.peakMultiplier = surge.peakMultiplier;
  const peak = surgeState(market, surge.fromMs + surge.rampMs)!;
  event.params.peakPeerNegativeShare = Number(peak.peerShare.toFixed(4));
  // > 1 when the issuer is too big a part of its region to offset there: all regions scale together.
  event.params.peakMarketScale = Number(peak.scale.toFixed(4));
}

/**
 * The Chinese-language market of a run (`zh.share` of the documents, default per scenario: 0 except
 * `zh-surge`), with its own Zipf volume, base rates, bursts and, where asked, its own surge (default
 * issuer 贵州茅台 600519.SH), compensated within its region as the English surge is.
 */
function resolveChineseMarket(
  o: ScenarioOptions,
  effects: ScenarioEffects,
  realism: RealismOptions,
  injected: InjectedEvent[],
): ChineseMarket | null {
  const share = o.zh?.share ?? effects.zhShare;
  if (!(share >= 0 && share < 1)) throw new Error('zh.share must be a share in [0, 1)');
  if (share === 0) return null;
  const start = o.startMs;
  const universe = selectChineseUniverse(o.zh?.universeSize);
  const regions = ZH_REGIONS.map((r) => [r, ZH_REGION_WEIGHTS[r]] as const);
  const rng = Random.fromSeed(o.seed).fork(9);
  const market = buildMarket(universe, regions, realism, rng, start, start + o.durationMs);
  for (const b of market.bursts) injected.push(burstEvent(b));
  const asked = o.zh?.surge;
  if (asked === false || (asked === undefined && !effects.zhSurge))
    return { ...market, share, surge: null, surgeIssuer: null, bias: null };
  if (asked?.ticker && !universe.some((i) => i.ticker === asked.ticker))
    throw new Error(`zh surge ticker ${asked.ticker} is not in the Chinese universe of this run`);
  const fallback = universe.find((i) => i.ticker === '600519.SH') ?? universe[0]!;
  const planned = planSurge(asked, universe, fallback, start, o.durationMs, injected);
  const out = { ...market, share, surge: planned.surge, surgeIssuer: planned.surgeIssuer, bias: null };
  capSurge(out, planned.event);
  return out;
}

/**
 * Effects planted in documents of a language the configured models do not read cannot be detected:
 * their documents are unscored (design §3). Such events are marked (params.scored = false) and expect
 * no alert; any alert on them is then a false one.
 */
function markUnscored(injected: InjectedEvent[], scoredLanguages: readonly string[] | undefined): void {
  if (!scoredLanguages || scoredLanguages.length === 0) return;
  for (const e of injected) {
    const language = e.params.language;
    if (typeof language !== 'string' || scoredLanguages.includes(language)) continue;
    e.params.scored = false;
    e.description += `; its documents are in ${language}, which the configured models do not read (models.languages: ${scoredLanguages.join(', ')}): they are unscored, so no alert is expected`;
  }
}

/** Lowest negative share the surge compensation gives the surge issuer's regional peers. */
const COMPENSATION_FLOOR = 0.04;
/** Cap on market-wide scaled negative shares: stays clear of the 0.5 surge threshold. */
const SCALED_CAP = 0.4;

function regionBaseShare(plan: Pick<Market, 'bias'>, region: MarketRegion, t: number): number {
  const b = plan.bias;
  return b && b.region === region && t >= b.fromMs && t < b.toMs ? b.negativeShare : BASELINE_MIX.negative;
}

/**
 * The surge at event time t: negative share of the surge issuer, of its regional peers, and a scale for
 * every other region. The surge is meant to be an issuer event, not a regional fairness gap, so the
 * peers get fewer negatives to keep the region's share at its base. When the issuer is too large a
 * part of its region for that (small universes), the peers go down to a floor and the remaining excess
 * is matched by scaling every other region by the same factor: regional ratios (disparate impact) stay
 * as they were, and the market as a whole turns a little more negative.
 */
export function surgeState(
  plan: Pick<Market, 'surge' | 'surgeIssuer' | 'byRegion' | 'bias'> & Partial<Pick<Market, 'volume'>>,
  t: number,
): { issuerShare: number; peerShare: number; scale: number } | null {
  const s = plan.surge;
  const si = plan.surgeIssuer;
  if (!s || !si) return null;
  const intensity = surgeIntensity(s, t);
  if (intensity === 0) return null;
  const r0 = regionBaseShare(plan, si.region, t);
  const issuerShare = lerp(r0, Math.max(r0, s.peakNegativeShare), intensity);
  const multiplier = lerp(1, s.peakMultiplier, intensity);
  const n = plan.byRegion.get(si.region)!.length;
  const f = regionVolumeFraction(plan, si);
  const q = (multiplier * f) / (multiplier * f + 1 - f);
  const peerShare = n > 1 ? (r0 - q * issuerShare) / (1 - q) : 0;
  if (n > 1 && peerShare >= COMPENSATION_FLOOR) return { issuerShare, peerShare, scale: 1 };
  const regionShare = q * issuerShare + (1 - q) * COMPENSATION_FLOOR;
  return { issuerShare, peerShare: COMPENSATION_FLOOR, scale: regionShare / r0 };
}

/** The issuer's share of its region's coverage (1/n without realism). */
function regionVolumeFraction(
  plan: Pick<Market, 'byRegion'> & Partial<Pick<Market, 'volume'>>,
  issuer: Issuer,
) {
  const peers = plan.byRegion.get(issuer.region)!;
  if (!plan.volume) return 1 / peers.length;
  return plan.volume.get(issuer)! / peers.reduce((s, i) => s + plan.volume!.get(i)!, 0);
}

/** Highest share a multiplied issuer rate may reach: leaves room for neutral and positive documents. */
const ISSUER_RATE_CAP = 0.9;

/** Intended negative share of a document about `issuer` at event time t, given the plan. */
function negativeShareFor(plan: Market, issuer: Issuer, t: number): number {
  const own = (share: number) => Math.min(ISSUER_RATE_CAP, share * plan.rateMultiplier.get(issuer)!);
  const base = own(regionBaseShare(plan, issuer.region, t));
  const surge = surgeState(plan, t);
  if (!surge) return base;
  if (issuer === plan.surgeIssuer)
    return lerp(base, Math.max(base, plan.surge!.peakNegativeShare), surgeIntensity(plan.surge!, t));
  if (issuer.region === plan.surgeIssuer!.region) return own(surge.peerShare);
  return Math.min(SCALED_CAP, base * surge.scale);
}

function pickIssuer(plan: Market, rng: Random, t: number): Issuer {
  const region = rng.weighted(plan.regionWeights);
  const issuers = plan.byRegion.get(region)!;
  const s = plan.surge;
  const surgeMultiplier =
    s && plan.surgeIssuer && plan.surgeIssuer.region === region
      ? lerp(1, s.peakMultiplier, surgeIntensity(s, t))
      : 1;
  const bursting = plan.bursts.filter((b) => b.issuer.region === region && t >= b.fromMs && t < b.toMs);
  const uniform = plan.realism.zipfExponent === 0;
  if (uniform && surgeMultiplier === 1 && bursting.length === 0) return rng.pick(issuers);
  return rng.weighted(
    issuers.map((i) => {
      let w = uniform ? 1 : plan.volume.get(i)!;
      if (i === plan.surgeIssuer) w *= surgeMultiplier;
      for (const b of bursting) if (b.issuer === i) w *= b.multiplier;
      return [i, w] as const;
    }),
  );
}

/** Coverage bursts with unchanged tone, on issuers drawn by volume, spread over the run. */
function planBursts(
  r: RealismOptions,
  universe: Issuer[],
  rng: Random,
  start: number,
  end: number,
): CoverageBurst[] {
  const { count, multiplier, durationMs } = r.coverageBursts;
  if (count <= 0 || end - start <= durationMs) return [];
  const out: CoverageBurst[] = [];
  for (let k = 0; k < count; k++) {
    const issuer =
      universe[Math.min(universe.length - 1, Math.floor(rng.float() * Math.min(universe.length, 50)))]!;
    const fromMs = start + Math.floor(rng.float() * (end - start - durationMs));
    out.push({ issuer, fromMs, toMs: fromMs + durationMs, multiplier });
  }
  return out;
}

function burstEvent(b: CoverageBurst): InjectedEvent {
  return {
    kind: 'coverage-burst',
    description: `coverage of ${b.issuer.name} ($${b.issuer.ticker}) ${b.multiplier}x its usual share, tone unchanged: no alert is expected`,
    fromMs: b.fromMs,
    toMs: b.toMs,
    groups: [{ dimension: 'issuer', group: issuerGroup(b.issuer), aliases: issuerAliases(b.issuer) }],
    params: { multiplier: b.multiplier },
  };
}

function pickLabel(rng: Random, negativeShare: number): SentimentLabel {
  const mix = mixWithNegative(negativeShare);
  return rng.weighted(SENTIMENT_LABELS.map((l) => [l, mix[l]] as const));
}

/** Source weights of news at drift progress p: the aggregator takes `newSourceShare·p` of the mix. */
function newsSourceWeights(plan: ResolvedPlan, p: number): Array<readonly [string, number]> {
  const share = plan.drift ? plan.drift.newSourceShare * p : 0;
  const out: Array<readonly [string, number]> = NEWS_SOURCE_WEIGHTS.map(
    ([s, w]) => [s, w * (1 - share)] as const,
  );
  if (share > 0) out.push([DRIFT_SOURCE, share]);
  return out;
}

interface DocumentDraft {
  id: string;
  storyId: string;
  eventTimeMs: number;
  arrivalMs: number;
  issuer: Issuer;
  label: SentimentLabel;
  topic: InputTopic;
  record: InputRecord;
}

interface Republication {
  dueMs: number;
  story: NewsArticleRecord;
  issuer: Issuer;
  label: SentimentLabel;
  rewrite: boolean;
}

function newsRecord(
  id: string,
  source: string,
  eventTimeMs: number,
  headline: string,
  body: string,
  issuer: Issuer,
  withUrl: boolean,
): NewsArticleRecord {
  return {
    id,
    source,
    published_at: eventTimeMs,
    headline,
    body,
    language: 'en',
    tickers: [issuer.ticker],
    region: issuer.region,
    sector: issuer.sector,
    url: withUrl ? `https://${source}.finsentry.example/articles/${id}` : null,
  };
}

/** The random streams documents of one market are written from (independent: design §11). */
interface Streams {
  time: Random;
  text: Random;
  poison: Random;
  wire: Random;
  label: Random;
  story: Random;
  arrival: Random;
  idPrefix: string;
  seq: number;
}

function streamsOf(root: Random, idPrefix: string): Streams {
  return {
    time: root.fork(1),
    text: root.fork(2),
    poison: root.fork(3),
    wire: root.fork(4),
    label: root.fork(5),
    story: root.fork(6),
    arrival: root.fork(8),
    idPrefix,
    seq: 0,
  };
}

function traceparent(rng: Random): string {
  return `00-${rng.hex(16)}-${rng.hex(8)}-01`;
}

export function generateScenario(options: ScenarioOptions): ScenarioRun {
  const { plan, injected, skipped } = resolvePlan(options);
  const truth = initialTruth(options, plan, injected, skipped);
  return { truth, messages: new ScenarioWriter(options, plan, truth).messages() };
}

/** The ground truth before any message is written: what was injected and which alerts it expects. */
function initialTruth(
  options: ScenarioOptions,
  plan: ResolvedPlan,
  injected: InjectedEvent[],
  skipped: GroundTruth['skippedPoisonKinds'],
): GroundTruth {
  const end = options.startMs + options.durationMs;
  return {
    version: 1,
    scenario: options.name,
    seed: options.seed,
    startMs: options.startMs,
    endMs: end,
    ratePerSecond: options.ratePerSecond,
    tickers: [...plan.universe, ...(plan.zh?.universe ?? [])].map((i) => i.ticker),
    baselineMix: { ...BASELINE_MIX },
    injected,
    expectedAlerts: expectedAlertsFor(
      injected.filter((e) => e.params.scored !== false),
      options.rules,
      end,
    ),
    toleratedAlerts: toleratedAlertsFor(injected, options.rules),
    skippedPoisonKinds: skipped,
    expectedDeadLetters: [],
    counts: {
      total: 0,
      byTopic: { news: 0, chat: 0 },
      byTruth: { negative: 0, neutral: 0, positive: 0 },
      poison: 0,
      labels: 0,
      deadLettersByReason: {},
    },
    complete: false,
  };
}

/**
 * Writes a scenario's messages in arrival order, counting them into its ground truth: originals of
 * the English (and Chinese) market, their republications, delayed arrivals and delayed labels.
 */
class ScenarioWriter {
  private readonly streams: { en: Streams; zh: Streams };
  /** The random streams of the market whose document is being written (set before each one). */
  private s: Streams;
  /** Labels waiting for their (event) time, ascending by due time. */
  private readonly pendingLabels: ScenarioMessage[] = [];
  /** Republications of news stories, due at their own event time. */
  private readonly republications = new MinHeap<Republication>();
  /** Documents held back until their arrival time (only with arrival delays or future stamps). */
  private readonly arrivals = new MinHeap<ScenarioMessage>();
  private readonly delays: boolean;
  private readonly realism: RealismOptions;

  constructor(
    private readonly options: ScenarioOptions,
    private readonly plan: ResolvedPlan,
    private readonly truth: GroundTruth,
  ) {
    const root = Random.fromSeed(options.seed);
    this.streams = {
      en: streamsOf(root, `${options.name}-${options.seed}-`),
      zh: streamsOf(root.fork(20), `${options.name}-${options.seed}-zh`),
    };
    this.s = this.streams.en;
    this.realism = plan.realism;
    this.delays = this.realism.arrivalDelayMeanMs > 0 || this.realism.futureShare > 0;
  }

  private queueLabel(m: ScenarioMessage, label: SentimentLabel): void {
    const labelDelayMs = this.options.labels?.delayMs ?? 600_000;
    const due = m.eventTimeMs + Math.round(labelDelayMs * (0.5 + this.s.label.float()));
    const record: LabelRecord = {
      document_id: m.id,
      label,
      labeller: this.options.labels?.labeller ?? 'review-desk',
      labelled_at: due,
      document_event_time: m.eventTimeMs,
      document_kind: m.topic as InputTopic,
    };
    const msg: ScenarioMessage = {
      topic: 'labels',
      key: m.id,
      value: encodeLabel(record),
      headers: { 'finsentry-scenario': this.options.name },
      eventTimeMs: due,
      id: `${m.id}:label`,
      truth: label,
      poison: null,
      framing: 'plain',
      record,
      issuer: m.issuer,
      storyId: m.storyId,
      arrivalMs: due,
    };
    const pending = this.pendingLabels;
    let i = pending.length;
    while (i > 0 && pending[i - 1]!.eventTimeMs > due) i--;
    pending.splice(i, 0, msg);
  }

  /** Builds, counts and (for poison) records one document; returns the message to deliver. */
  private emit(doc: DocumentDraft): ScenarioMessage {
    const { s, plan, truth } = this;
    const { topic, record, eventTimeMs, issuer, label, id } = doc;
    const framing: 'plain' | 'confluent' = s.wire.chance(plan.confluentShare) ? 'confluent' : 'plain';
    const headers: Record<string, string> = { 'finsentry-scenario': this.options.name };
    if (s.wire.chance(0.3)) headers.traceparent = traceparent(s.wire);
    truth.counts.total++;
    truth.counts.byTopic[topic]++;
    const common = { topic, key: id, headers, eventTimeMs, id, framing, record, issuer };
    const timing = { storyId: doc.storyId, arrivalMs: doc.arrivalMs };
    if (plan.poison.share > 0 && s.poison.chance(plan.poison.share)) {
      const kind = s.poison.pick(plan.feasiblePoison);
      const bad = buildPoison(kind, topic, record, s.poison, plan.limits, plan.schemaIds);
      truth.counts.poison++;
      truth.counts.deadLettersByReason[bad.reason] = (truth.counts.deadLettersByReason[bad.reason] ?? 0) + 1;
      truth.expectedDeadLetters.push({ id, topic, key: id, reason: bad.reason, eventTimeMs });
      return { ...common, value: bad.value, truth: null, poison: bad.reason, ...timing };
    }
    truth.counts.byTruth[label]++;
    const value = encodeRecord(topic, record, framing, plan.schemaIds);
    const message: ScenarioMessage = { ...common, value, truth: label, poison: null, ...timing };
    const labelShare = this.options.labels?.share ?? 0;
    if (labelShare > 0 && s.label.chance(labelShare)) this.queueLabel(message, label);
    return message;
  }

  /** Arrival time and (rarely) a future stamp: the record carries the stamp, the topic gets it now. */
  private timeOf(t: number): { eventTimeMs: number; arrivalMs: number } {
    const { s, realism } = this;
    const at = Math.floor(t);
    if (realism.futureShare > 0 && s.arrival.chance(realism.futureShare))
      return { eventTimeMs: at + realism.futureSkewMs, arrivalMs: at };
    const delay =
      realism.arrivalDelayMeanMs > 0 ? Math.round(s.arrival.exponential(realism.arrivalDelayMeanMs)) : 0;
    return { eventTimeMs: at, arrivalMs: at + delay };
  }

  /** An English news article or chat line, in the text style and news share of the drift at `t`. */
  private original(t: number): DocumentDraft {
    const { s, plan } = this;
    const { eventTimeMs, arrivalMs } = this.timeOf(t);
    const id = `${s.idPrefix}${s.seq++}`;
    const p = plan.drift ? driftProgress(plan.drift, eventTimeMs) : 0;
    const style: TextStyle = plan.drift
      ? {
          longBodyShare: lerp(DEFAULT_TEXT_STYLE.longBodyShare, plan.drift.longBodyShare, p),
          driftVocabularyShare: lerp(
            DEFAULT_TEXT_STYLE.driftVocabularyShare,
            plan.drift.driftVocabularyShare,
            p,
          ),
        }
      : DEFAULT_TEXT_STYLE;
    const newsShare = plan.drift ? lerp(plan.newsShare, plan.drift.newsShare, p) : plan.newsShare;
    const topic: InputTopic = s.text.chance(newsShare) ? 'news' : 'chat';
    const issuer = pickIssuer(plan, s.text, eventTimeMs);
    const label = pickLabel(s.text, negativeShareFor(plan, issuer, eventTimeMs));
    // The surge issuer's texts never name another organisation (broker, exchange, client), so the
    // surge stays on its own `issuer` group instead of leaking into co-mentioned ones.
    const soloOrg = plan.surgeIssuer === issuer;
    const draft = { id, storyId: id, eventTimeMs, arrivalMs, issuer, label, topic };
    if (topic === 'chat') {
      const text = writeChat(label, issuer, s.text, eventTimeMs, style, soloOrg);
      const platform = s.text.weighted(CHAT_PLATFORMS.map((c) => [c, c.weight] as const));
      const chat: ChatMessageRecord = {
        id,
        platform: platform.platform,
        channel: s.text.pick(platform.channels),
        author_id: `trader-${s.text.int(1, 800)}`,
        sent_at: eventTimeMs,
        text,
        language: 'en',
        tickers: cashtags(text),
        region: issuer.region,
      };
      return { ...draft, record: chat };
    }
    const text = writeNews(label, issuer, s.text, eventTimeMs, style, soloOrg);
    const source = s.text.weighted(newsSourceWeights(plan, p));
    const news = newsRecord(id, source, eventTimeMs, text.headline, text.body, issuer, s.text.chance(0.6));
    this.syndicate(t, news, issuer, label);
    return { ...draft, record: news };
  }

  /** Syndication: the story is republished 1 + Poisson(λ) times in all, by other outlets, minutes later. */
  private syndicate(t: number, news: NewsArticleRecord, issuer: Issuer, label: SentimentLabel): void {
    const { s, realism } = this;
    const copies = poisson(s.story, realism.syndicationLambda);
    for (let k = 0; k < copies; k++) {
      const dueMs = t + s.story.exponential(realism.syndicationSpreadMs);
      this.republications.push(dueMs, {
        dueMs,
        story: news,
        issuer,
        label,
        rewrite: s.story.chance(realism.rewriteShare),
      });
    }
  }

  /** A Chinese news article or 股吧/雪球 line about an issuer of the Chinese market. */
  private chineseOriginal(t: number, zh: ChineseMarket): DocumentDraft {
    const { s } = this;
    const at = { ...this.timeOf(t), id: `${s.idPrefix}${s.seq++}` };
    const { id, eventTimeMs } = at;
    const topic: InputTopic = s.text.chance(this.plan.newsShare) ? 'news' : 'chat';
    const issuer = pickIssuer(zh, s.text, eventTimeMs);
    const label = pickLabel(s.text, negativeShareFor(zh, issuer, eventTimeMs));
    const soloOrg = zh.surgeIssuer === issuer;
    const language = chineseLanguageTag(s.text);
    const draft = { ...at, storyId: id, issuer, label, topic };
    if (topic === 'chat') {
      const platform = s.text.weighted(ZH_CHAT_PLATFORMS.map((c) => [c, c.weight] as const));
      const chat: ChatMessageRecord = {
        id,
        platform: platform.platform,
        channel: s.text.pick(platform.channels),
        author_id: `${platform.platform}-${s.text.int(1, 2_000)}`,
        sent_at: eventTimeMs,
        text: writeChineseChat(label, issuer, s.text, eventTimeMs, soloOrg),
        language,
        // 雪球's feed carries the code in its own form (SH600519); 股吧 scrapes carry none.
        tickers: platform.platform === 'xueqiu' && s.text.chance(0.5) ? [producerSymbol(issuer)] : [],
        region: issuer.region,
      };
      return { ...draft, record: chat };
    }
    const text = writeChineseNews(label, issuer, s.text, eventTimeMs, soloOrg);
    const source = s.text.weighted(ZH_NEWS_SOURCE_WEIGHTS);
    const news: NewsArticleRecord = {
      ...newsRecord(id, source, eventTimeMs, text.headline, text.body, issuer, s.text.chance(0.6)),
      language,
      // Many Chinese feeds send no codes: the pipeline reads them from the text (src/domain/tickers.ts).
      tickers: s.text.chance(0.6) ? [issuer.ticker] : [],
    };
    this.syndicate(t, news, issuer, label);
    return { ...draft, record: news };
  }

  /** A story republished by another outlet, sometimes lightly rewritten. */
  private republication(r: Republication): DocumentDraft {
    const { s } = this;
    const { eventTimeMs, arrivalMs } = this.timeOf(r.dueMs);
    const id = `${s.idPrefix}${s.seq++}`;
    const chinese = r.issuer.language === 'zh';
    const outlets = chinese ? ZH_NEWS_SOURCE_WEIGHTS : NEWS_SOURCE_WEIGHTS;
    const rewrite = chinese ? lightRewriteChinese : lightRewrite;
    const source = s.story.weighted(outlets.filter(([outlet]) => outlet !== r.story.source));
    const headline = r.rewrite ? rewrite(r.story.headline, s.story, source) : r.story.headline;
    const body = r.rewrite ? rewrite(r.story.body, s.story, source) : r.story.body;
    const news: NewsArticleRecord = {
      ...newsRecord(id, source, eventTimeMs, headline, body, r.issuer, s.story.chance(0.6)),
      // The outlet republishes with the original's language tag and codes (or lack of them).
      language: r.story.language,
      tickers: r.story.tickers,
    };
    const base = { id, storyId: r.story.id, eventTimeMs, arrivalMs, issuer: r.issuer, label: r.label };
    return { ...base, topic: 'news', record: news };
  }

  private *deliver(m: ScenarioMessage, nowMs: number): Generator<ScenarioMessage> {
    if (!this.delays) {
      yield m;
      return;
    }
    const arrivals = this.arrivals;
    arrivals.push(m.arrivalMs, m);
    while (arrivals.size > 0 && arrivals.peekKey()! <= nowMs) yield arrivals.pop()!;
  }

  /** Labels due by `nowMs`, counted. */
  private *dueLabels(nowMs: number): Generator<ScenarioMessage> {
    while (this.pendingLabels.length > 0 && this.pendingLabels[0]!.eventTimeMs <= nowMs) {
      this.truth.counts.labels++;
      yield this.pendingLabels.shift()!;
    }
  }

  /**
   * The Chinese market is a Poisson stream of its own, at `zh.share` of the rate, drawn from random
   * streams of its own: adding it leaves every draw of the English traffic as it was.
   */
  *messages(): IterableIterator<ScenarioMessage> {
    const { streams, plan, realism, republications } = this;
    const start = this.options.startMs;
    const end = start + this.options.durationMs;
    const meanGapMs = 1000 / this.options.ratePerSecond;
    const zh = plan.zh;
    const enGapMs = meanGapMs / (1 - (zh?.share ?? 0));
    const zhGapMs = zh ? meanGapMs / zh.share : Number.POSITIVE_INFINITY;
    const advance = (clock: number, stream: Streams, gapMs: number) =>
      clock + stream.time.exponential(gapMs) / diurnalFactor(realism, clock);
    let t = advance(start, streams.en, enGapMs);
    let tz = zh ? advance(start, streams.zh, zhGapMs) : Number.POSITIVE_INFINITY;
    for (;;) {
      const next = Math.min(t, tz);
      while (republications.size > 0 && republications.peekKey()! <= Math.min(next, end)) {
        const r = republications.pop()!;
        this.s = r.issuer.language === 'zh' ? streams.zh : streams.en;
        yield* this.deliver(this.emit(this.republication(r)), r.dueMs);
      }
      if (next >= end) break;
      yield* this.dueLabels(Math.floor(next));
      if (t <= tz) {
        this.s = streams.en;
        yield* this.deliver(this.emit(this.original(t)), t);
        t = advance(t, streams.en, enGapMs);
      } else {
        this.s = streams.zh;
        yield* this.deliver(this.emit(this.chineseOriginal(tz, zh!)), tz);
        tz = advance(tz, streams.zh, zhGapMs);
      }
    }
    // Held-back arrivals and labels due after the last document still come, at their own times.
    while (this.arrivals.size > 0) yield this.arrivals.pop()!;
    yield* this.dueLabels(Number.POSITIVE_INFINITY);
    this.truth.complete = true;
  }
}
