/**
 * Everything the model-risk report shows, as plain data: `renderReportHtml` is a pure function of it,
 * and `loadReportData` builds it from a WindowReader (Redis) and the alert history. Times are event
 * time, epoch ms; rates are shares in [0, 1].
 */

export interface ReportData {
  title: string;
  /** Wall-clock time the report was generated. */
  generatedAtMs: number;
  windowMs: number;
  windowStartMs: number;
  windowEndMs: number;
  watermarkMs: number;
  bucketMs: number;
  /** Trailing span over which the charts smooth the per-bucket negative share. */
  smoothMs: number;
  totalDocuments: number;
  lateObservations: number;
  /** Rate compared across groups (fairness): share of negative predictions by default. */
  rate: 'negative_share' | 'positive_share' | 'mean_polarity';
  dimensions: ReportDimension[];
  drift: ReportDrift | null;
  alerts: ReportAlerts;
  /** Free-form remarks shown at the top (e.g. reference missing, alert source unavailable). */
  notes: string[];
}

export interface ReportGroup {
  group: string;
  n: number;
  /** Documents counted in the rate's numerator (negative predictions for negative_share). */
  successes: number;
  rate: number;
  /** 95% Wilson score interval of the rate (proportions). */
  wilsonLow: number | null;
  wilsonHigh: number | null;
  /** Groups below min_samples are shown but not judged (design §5). */
  judged: boolean;
  /** The group against all others: rate difference, two-sided p of the two-proportion z-test. */
  diffVsRest: number | null;
  pValueVsRest: number | null;
  meanPolarity: number | null;
  meanConfidence: number | null;
}

export interface ReportSeriesPoint {
  /** Bucket start, event time. */
  t: number;
  n: number;
  /** Negative share in the bucket (null when the bucket is empty). */
  negativeShare: number | null;
}

export interface ReportSeries {
  group: string;
  points: ReportSeriesPoint[];
  /** Bucket starts where Page–Hinkley flagged a change of the negative rate. */
  changeAlarmsMs: number[];
}

export interface ReportInterval {
  low: number;
  high: number;
}

/** Labelled metrics of one group: predictions joined to human labels (design §5). */
export interface ReportLabelledGroup {
  group: string;
  /** Labelled documents, and their share of the group's documents in the window. */
  labelled: number;
  coverage: number | null;
  accuracy: number | null;
  accuracyLow: number | null;
  accuracyHigh: number | null;
  /** One-vs-rest rates of the negative class. */
  tprNegative: number | null;
  fprNegative: number | null;
  /** One-vs-rest TPR and FPR of every class (null where undefined), as the Prometheus gauges. */
  classRates: Array<{ label: string; tpr: number | null; fpr: number | null }>;
  /** CBPE estimate over all the group's predictions (mean calibrated confidence), beside the realised accuracy. */
  estimatedAccuracy: number | null;
  judged: boolean;
}

export interface ReportLabelled {
  groups: ReportLabelledGroup[];
  /** Labelled documents over all groups shown, and their share of all documents. */
  labelled: number;
  coverage: number | null;
  equalizedOddsDifference: number | null;
  /** Its simultaneous 95% interval and where the gap is (src/stats/equalized-odds.ts). */
  equalizedOddsInterval: {
    low: number;
    high: number;
    worstClass: string;
    worstRate: 'tpr' | 'fpr';
    decidingPair: [string, string];
  } | null;
  accuracyGap: number | null;
}

export interface ReportDimension {
  dimension: string;
  /** A fairness dimension (config fairness.dimensions): parity figures are shown and judged. */
  fairness: boolean;
  minSamples: number;
  groups: ReportGroup[];
  /** Entity values left out as NER fragments (1–2 characters, stop words), entity dimensions only. */
  excludedFragments: string[];
  /** 95% intervals of the two parity figures between the min and max groups (src/stats/intervals.ts). */
  disparateImpactInterval: ReportInterval | null;
  parityDifferenceInterval: ReportInterval | null;
  /** Present when labels were joined to predictions in the window. */
  labelled: ReportLabelled | null;
  /** Groups hidden from tables and charts (beyond the top-K by volume). */
  omittedGroups: number;
  demographicParityDifference: number | null;
  disparateImpactRatio: number | null;
  minGroup: string | null;
  maxGroup: string | null;
  /** Sentiment over time for the largest groups. */
  series: ReportSeries[];
}

export interface ReportDriftFeature {
  feature: string;
  kind: 'numeric' | 'categorical';
  currentN: number;
  referenceN: number;
  psi: number | null;
  jensenShannon: number | null;
  ksStatistic: number | null;
  ksPValue: number | null;
  chiSquarePValue: number | null;
}

export interface ReportDrift {
  referenceKind: 'baseline' | 'trailing';
  referenceName: string | null;
  referenceStartMs: number;
  referenceEndMs: number;
  referenceDocuments: number;
  features: ReportDriftFeature[];
}

export interface ReportAlertEpisode {
  fingerprint: string;
  rule: string;
  kind: 'sentiment' | 'fairness' | 'drift' | 'pipeline';
  severity: 'info' | 'warning' | 'critical';
  dimension: string | null;
  group: string | null;
  metric: string;
  /** Value and threshold at the last transition seen. */
  value: number;
  threshold: number;
  /** Last state seen for the episode. */
  state: 'inactive' | 'pending' | 'firing' | 'resolved';
  /** When the episode became pending. */
  startedAtMs: number;
  /** When it started firing (null if it never fired). */
  firingAtMs: number | null;
  /** When it resolved (null while still active). */
  endedAtMs: number | null;
  summary: string;
  runbookUrl: string;
}

export interface ReportAlerts {
  /** Where the alerts were read from, e.g. "Kafka topic finsentry.alerts (312 events)". */
  source: string;
  /** False when the source could not be read; the report says so instead of showing "no alerts". */
  available: boolean;
  episodes: ReportAlertEpisode[];
}
