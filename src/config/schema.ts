import { z } from 'zod';
import { formatDuration, parseDuration } from './duration.js';
import { withProviderBatching } from './provider-defaults.js';

/**
 * The one config file (YAML or JSON) of finsentry. Every field has a default so that an empty file
 * runs the local demo; `finsentry config check FILE` validates and prints the effective config.
 * Secrets are never literal values here: only `…Env` (name of an environment variable) or
 * `…File` (path to a file) references.
 */

const duration = z
  .string()
  .refine((s) => {
    try {
      parseDuration(s);
      return true;
    } catch {
      return false;
    }
  }, 'expected a duration like 250ms, 30s, 5m, 1h, 24h')
  .transform((s) => parseDuration(s));

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port');

const secretRef = z
  .object({ env: z.string().optional(), file: z.string().optional() })
  .strict()
  .refine((s) => Boolean(s.env) !== Boolean(s.file), 'give exactly one of env or file');
export type SecretRef = z.infer<typeof secretRef>;

const tlsOptions = z
  .object({
    enabled: z.boolean().default(true),
    caFile: z.string().optional(),
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    rejectUnauthorized: z.boolean().default(true),
    servername: z.string().optional(),
  })
  .strict();

const kafkaSchema = z
  .object({
    brokers: z.array(hostPort).min(1).default(['127.0.0.1:9092']),
    clientId: z.string().min(1).default('finsentry'),
    groupId: z.string().min(1).default('finsentry'),
    tls: tlsOptions.optional(),
    sasl: z
      .object({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
        username: z.string().min(1),
        password: secretRef,
      })
      .strict()
      .optional(),
    topics: z
      .object({
        news: z.string().min(1).default('news.raw'),
        chat: z.string().min(1).default('chat.raw'),
        labels: z.string().min(1).nullable().default('labels'),
        enriched: z.string().min(1).default('finsentry.enriched'),
        alerts: z.string().min(1).default('finsentry.alerts'),
        dlq: z.string().min(1).default('finsentry.dlq'),
        /** Records the window store refused as late or future (docs/guarantees.md#event-time). */
        late: z.string().min(1).default('finsentry.late'),
      })
      .strict()
      .default({
        news: 'news.raw',
        chat: 'chat.raw',
        labels: 'labels',
        enriched: 'finsentry.enriched',
        alerts: 'finsentry.alerts',
        dlq: 'finsentry.dlq',
        late: 'finsentry.late',
      }),
    /**
     * at-least-once (default) or exactly-once outputs via Kafka transactions (design §10,
     * src/io/kafka/delivery.ts). With exactly-once, consumers of the output topics must read with
     * isolation.level=read_committed.
     */
    delivery: z.enum(['at-least-once', 'exactly-once']).default('at-least-once'),
    /**
     * exactly-once: transactional ids are `<prefix>.<input topic>.<partition>`; default the group id.
     * Keep it stable across restarts and replicas of one deployment (that is what fences zombies).
     */
    transactionalIdPrefix: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, underscore, dash')
      .optional(),
    /** exactly-once: the coordinator aborts a transaction left open this long (a crashed process nobody replaced). */
    transactionTimeout: duration.default(60_000),
    fromBeginning: z.boolean().default(true),
    sessionTimeout: duration.default(30_000),
    compression: z.enum(['none', 'gzip']).default('gzip'),
  })
  .strict();

const redisSchema = z
  .object({
    /**
     * redis://[user@]host:port[/db] for a single node (rediss:// for TLS). Never a password in the URL:
     * secrets come only from env or files (`password`), so that config files and logs can be shared.
     */
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'expected redis://host:port or rediss://host:port')
      .refine(
        (s) => !/^rediss?:\/\/[^/@]*:[^/@]*@/.test(s),
        'no password in the URL: use redis.password ({ env } or { file })',
      )
      .default('redis://127.0.0.1:6379'),
    /** Seed nodes of a Redis Cluster; when set, `url` is ignored. */
    cluster: z.array(hostPort).min(1).optional(),
    username: z.string().optional(),
    password: secretRef.optional(),
    tls: tlsOptions.optional(),
    keyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9:_-]*$/, 'letters, digits, colon, underscore, dash')
      .default('fs'),
    commandTimeout: duration.default(5_000),
    /** Start even when Redis' maxmemory-policy may evict keys (src/io/redis/durability.ts). */
    allowEvictingPolicy: z.boolean().default(false),
  })
  .strict();

const modelRef = z.object({ path: z.string().min(1) }).strict();

const languageCode = z.string().regex(/^[a-z]{2,3}$/, 'a lower-case ISO 639 code such as en or zh');
const sentimentLabelMap = z.record(z.string(), z.enum(['negative', 'neutral', 'positive']));
/** NER decoding (src/inference/ner.ts): the HF pipeline's four, and BIO-constrained viterbi. */
const nerAggregation = z.enum(['simple', 'first', 'max', 'average', 'viterbi']);
/**
 * The default decoding, for the pair and for model sets: viterbi with the model's case prior (CoNLL-2003
 * testa span F1 of the pair's NER 0.904 → 0.920; Chinese dev 0.694 → 0.752; docs/inference.md "Post-processing").
 */
export const DEFAULT_NER_AGGREGATION = 'viterbi' as const;

/**
 * A model set beyond the sentiment/ner pair (docs/inference.md "Model sets"): a joint model directory
 * (finsentry_task joint: sentiment and NER from one encoder pass) or a sentiment model directory,
 * scoring the languages listed. A language belongs to one set at most.
 */
const modelSetSchema = z
  .object({
    /** Names the set in logs and in the startup line that says which set scores which languages. */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, - and _'),
    path: z.string().min(1),
    languages: z.array(languageCode).min(1),
    labelMap: sentimentLabelMap.optional(),
    aggregation: nerAggregation.default(DEFAULT_NER_AGGREGATION),
    /** true: when `path` does not exist, start without this set (its languages stay unscored) instead of failing. */
    optional: z.boolean().default(false),
  })
  .strict();

/** The default: Chinese by the joint multilingual model, once models/finsentry-multilingual exists. */
export const DEFAULT_MODEL_SETS = [
  { name: 'multilingual', path: 'models/finsentry-multilingual', languages: ['zh'], optional: true },
];

const modelsSchema = z
  .object({
    sentiment: modelRef
      .extend({
        /** Map model labels to canonical ones, e.g. { LABEL_0: negative, bearish: negative }. */
        labelMap: sentimentLabelMap.optional(),
      })
      .default({ path: 'models/finsentry-sentiment' }),
    ner: modelRef
      .extend({ aggregation: nerAggregation.default(DEFAULT_NER_AGGREGATION) })
      .nullable()
      .default({ path: 'models/finsentry-ner', aggregation: DEFAULT_NER_AGGREGATION }),
    executionProvider: z.enum(['cpu', 'cuda']).default('cpu'),
    /** Intra-op threads per session; 0 = the cores split between the inference workers (src/inference/threads.ts). */
    intraOpThreads: z.number().int().min(0).default(0),
    /** Inter-op threads per session; 0 = 1 (the graphs run their nodes in sequence). */
    interOpThreads: z.number().int().min(0).default(0),
    /** Spin-wait of ORT's thread pools between runs; `auto` = off (docs/inference.md "Threads"). */
    intraOpSpinning: z.enum(['auto', 'on', 'off']).default('auto'),
    /**
     * Inference threads per process: 1 (0 = auto = 1). One thread holds every model and is restarted
     * when it dies (docs/guarantees.md); to use more cores run one process per core group
     * (docs/inference.md). Several threads per process were prototyped but not merged.
     */
    inferenceWorkers: z.number().int().min(0).max(1).default(0),
    graphOptimization: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
    /**
     * executionProvider cuda without a usable CUDA: run on CPU with a warning (true), or refuse to
     * start (false, as the k8s gpu overlay sets it: a GPU pod on CPU is an outage in disguise).
     */
    allowCpuFallback: z.boolean().default(true),
    /**
     * Where ONNX Runtime runs: `worker` (a thread of its own, so that a batch never stalls Kafka
     * heartbeats, Redis or metrics) or `main` (the event loop's thread).
     */
    inferenceThread: z.enum(['worker', 'main']).default('worker'),
    /** Tokens per window including special tokens. */
    maxLength: z.number().int().min(16).max(8192).default(128),
    /** Overlap between consecutive windows of a long text, in tokens. */
    stride: z.number().int().min(0).default(32),
    /** Hard limit on windows per document; text beyond it is reported as truncated. */
    maxWindows: z.number().int().min(1).default(64),
    /**
     * Language routing (design §3): the primary language subtags the configured models read. A
     * document in any other language is enriched with its language and `unscored_reason`, never a
     * sentiment. The default models are English. Empty list = routing off (every document scored).
     */
    languages: z.array(languageCode).default(['en']),
    /**
     * Further model sets and the languages each scores (default: `zh` by models/finsentry-multilingual,
     * optional). Used only while routing is on (`languages` not empty).
     */
    sets: z.array(modelSetSchema).default(() => DEFAULT_MODEL_SETS.map((set) => modelSetSchema.parse(set))),
    /**
     * `verify` (default): the producer's language tag is kept unless the text's script contradicts it
     * or ELD detects another language reliably; `producer`: only the script check overrides the tag.
     */
    languagePolicy: z.enum(['verify', 'producer']).default('verify'),
  })
  .strict()
  .refine((m) => m.stride < m.maxLength - 2, {
    message: 'stride must be smaller than maxLength - 2',
    path: ['stride'],
  })
  .superRefine((m, ctx) => {
    // One language, one set: otherwise which model scores a document would depend on list order.
    const owner = new Map<string, string>(m.languages.map((l) => [l, 'models.languages']));
    m.sets.forEach((set, i) => {
      for (const language of set.languages) {
        const previous = owner.get(language);
        if (previous)
          ctx.addIssue({
            code: 'custom',
            path: ['sets', i, 'languages'],
            message: `language ${language} is already scored by ${previous}; a language belongs to one model set`,
          });
        owner.set(language, `models.sets[${set.name}]`);
      }
    });
    const names = m.sets.map((s) => s.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) ctx.addIssue({ code: 'custom', path: ['sets'], message: `model set name ${dup} is used twice` });
  });

/** Fields left out take the execution provider's defaults (src/config/provider-defaults.ts). */
const batchingSchema = z
  .object({
    maxBatchSize: z.number().int().min(1).optional(),
    /** Padded tokens per batch (batch size × longest sequence), as Hugging Face TEI bounds batches. */
    maxBatchTokens: z.number().int().min(16).optional(),
    /**
     * Largest share of a batch's padded tokens that may be padding; windows that would push a batch
     * past it wait for a batch of their own length (CPU cost grows with padded tokens). 1 = no cap.
     */
    maxPaddingRatio: z.number().min(0).max(1).optional(),
    maxWait: duration.default(10),
    maxInFlightBatches: z.number().int().min(1).optional(),
    /** Documents buffered before the consumer pauses partitions (backpressure). */
    maxQueuedDocuments: z.number().int().min(1).default(4096),
  })
  .strict();

const limitsSchema = z
  .object({
    maxMessageBytes: z.number().int().min(1).default(1_048_576),
    /** Largest DLQ record (key + value + headers); a larger one keeps the head of its value (see src/pipeline/dlq.ts). */
    maxDeadLetterBytes: z.number().int().min(4096).default(1_000_000),
    /**
     * Largest inflated size of one fetched compressed record batch; a larger one is not inflated
     * further and its records go to the DLQ (decompression-limit; src/io/kafka/bounded-codecs.ts).
     */
    maxDecompressedBatchBytes: z.number().int().min(65_536).default(33_554_432),
    /** Largest produce request per output topic (enriched, DLQ, alerts): larger sends are split (src/io/kafka/sized-requests.ts). */
    maxOutputBatchBytes: z.number().int().min(4096).default(1_000_000),
    /** Longest news `url` (characters) [invalid-field]. */
    maxUrlChars: z.number().int().min(1).default(4096),
    /** Longest free-text attribute (source, platform, channel, author_id, region, sector, labeller) [invalid-field]. */
    maxAttributeChars: z.number().int().min(1).default(256),
    maxTextChars: z.number().int().min(1).default(200_000),
    /** Entities the model finds beyond this are dropped from the output (highest scores kept). */
    maxEntitiesPerDocument: z.number().int().min(1).default(256),
    /** Inputs with more distinct tickers go to the DLQ (invalid-field): each ticker is a statistics group. */
    maxTickersPerDocument: z.number().int().min(1).default(64),
    /**
     * Event times further than this ahead of now are rejected to the DLQ, and further than this ahead of
     * their partition's event clock are not counted (future, docs/guarantees.md#event-time). Never
     * above stats.allowedLateness (checked in configSchema).
     */
    maxFutureSkew: duration.default(300_000),
  })
  .strict();

export const DIMENSION_SOURCES = [
  'kind',
  'source',
  'platform',
  'channel',
  'language',
  'region',
  'sector',
  'tickers',
  'entities.ORG',
  'entities.PER',
  'entities.LOC',
  'entities.MISC',
  'entity_types',
] as const;

/**
 * Input/output wire formats (design §2). `auto` reads the Confluent Schema Registry framing (magic byte
 * 0 + 4-byte schema id) when the first byte is 0, else a plain Avro body. Schema ids map to a schema
 * of schemas/ by full name (io.finsentry.NewsArticle) or to a path of an .avsc file (a writer schema,
 * resolved against ours); ids not in the map are fetched from `registryUrl` when it is set.
 */
/**
 * A Confluent-compatible schema registry (docs/schemas.md#schema-registry): its Confluent API base URL
 * (Apicurio: …/apis/ccompat/v7), basic auth with the password from env or file, TLS, and the
 * look-up cache: ids it did not know are asked again after `notFoundTtl` (a schema registered after
 * its first records), at most `notFoundMaxEntries` of them remembered.
 */
const registrySchema = z
  .object({
    url: z.string().url().optional(),
    username: z.string().min(1).optional(),
    password: secretRef.optional(),
    tls: tlsOptions.optional(),
    timeout: duration.default(5_000),
    notFoundTtl: duration.default(30_000),
    notFoundMaxEntries: z.number().int().min(1).default(10_000),
    maxConcurrentLookups: z.number().int().min(1).max(64).default(4),
    /**
     * At start, register the EnrichedDocument and Alert schemas under the TopicNameStrategy subjects of
     * the enriched and alerts topics (<topic>-value) and write those topics in the Confluent framing
     * with the ids the registry gives (overrides enrichedSchemaId / alertsSchemaId). Off by default:
     * it changes the bytes the consumers of those topics read.
     */
    registerOutputSchemas: z.boolean().default(false),
  })
  .strict()
  .refine((r) => (r.username === undefined) === (r.password === undefined), {
    message: 'basic auth needs both username and password',
    path: ['password'],
  });
export type RegistryConfig = z.infer<typeof registrySchema>;

const codecSchema = z
  .object({
    wireFormat: z.enum(['auto', 'plain', 'confluent']).default('auto'),
    schemaIds: z.record(z.string().regex(/^\d+$/, 'schema id (decimal)'), z.string().min(1)).default({}),
    /** Shorthand for registry.url (kept for existing configs). */
    registryUrl: z.string().url().optional(),
    registry: registrySchema.default(() => registrySchema.parse({})),
    /** When set, finsentry.enriched values are written in the Confluent framing with this schema id. */
    enrichedSchemaId: z.number().int().min(0).optional(),
    /** When set, finsentry.alerts values are written in the Confluent framing with this schema id. */
    alertsSchemaId: z.number().int().min(0).optional(),
  })
  .strict();

const dimensionSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'lower-case identifier'),
    from: z.enum(DIMENSION_SOURCES),
    /** Bounded dimensions export every group to Prometheus; unbounded ones only their top-K. */
    bounded: z.boolean().default(false),
    /** Values (as sanitised: lower-case unless tickers) that form no group, e.g. a known false entity. */
    exclude: z.array(z.string().min(1)).default([]),
    /** Drop ISO 4217 currency codes (usd, jpy, …); default: true for entities.ORG, false otherwise. */
    excludeCurrencyCodes: z.boolean().optional(),
    /**
     * Intersectional groups: the group is the combination of `from` and each of these sources, e.g.
     * from region, crossWith [source] → "emea+wire-a" (src/stats/grouping.ts). Single-valued sources only.
     */
    crossWith: z.array(z.enum(DIMENSION_SOURCES)).min(1).optional(),
    /** This dimension's cardinality budget (stats.maxGroupsPerBucket overridden); 0 = none. */
    maxGroupsPerBucket: z.number().int().min(0).optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    const multi = (s: string) => s === 'tickers' || s.startsWith('entit');
    if (d.crossWith && [d.from, ...d.crossWith].some(multi))
      ctx.addIssue({
        code: 'custom',
        path: ['crossWith'],
        message: 'intersectional dimensions combine single-valued sources only (not tickers or entities)',
      });
  });

const statsSchema = z
  .object({
    bucket: duration.default(60_000),
    windows: z.array(duration).min(1).default([300_000, 900_000, 3_600_000, 86_400_000]),
    allowedLateness: duration.default(300_000),
    /**
     * Event seconds per wall second (1 for live traffic). A replay of recorded or synthetic traffic at
     * speedup X sets X: a quiet partition's event clock may then advance X times its wall time before a
     * record counts as "future" (src/stats/event-time.ts), instead of refusing the first records after
     * every wall-clock gap of the replay.
     */
    eventTimeRate: z.number().min(1).default(1),
    /**
     * Delayed labels (design §5): a label joins its document's prediction if it comes within this grace
     * period of the document's event time (bounded by the prediction index's lifetime, which is
     * max(window store retention, this)).
     */
    labelGracePeriod: duration.default(3 * 86_400_000),
    dimensions: z
      .array(dimensionSchema)
      .min(1)
      .default(
        (
          [
            { name: 'kind', from: 'kind', bounded: true },
            { name: 'source', from: 'source', bounded: true },
            { name: 'platform', from: 'platform', bounded: true },
            { name: 'region', from: 'region', bounded: true },
            { name: 'language', from: 'language', bounded: true },
            { name: 'ticker', from: 'tickers', bounded: false },
            { name: 'issuer', from: 'entities.ORG', bounded: false },
          ] as const
        ).map((d) => ({ ...d, exclude: [] })),
      ),
    /** Groups below this size are reported but not judged (design §5). */
    minSamples: z.number().int().min(1).default(30),
    /**
     * Equalized odds: a group's TPR (FPR) of a class is judged only with at least this many actual
     * members (non-members) of the class; 0 = Fairlearn's figure (src/stats/fairness.ts).
     */
    minClassSamples: z.number().int().min(0).default(10),
    topK: z.number().int().min(1).max(100).default(10),
    /**
     * Cardinality budget (src/stats/windows/group-budget.ts): distinct groups per (input partition,
     * bucket, dimension); a bucket's groups beyond it are folded into the group "~other", counted.
     * Bounds every counter hash and so every Redis read and write; 0 = no budget.
     */
    maxGroupsPerBucket: z.number().int().min(0).default(300),
    /**
     * Security master (docs/alerting.md "Surge"): a CSV of id,name,aliases,tickers,region
     * (config/issuers.example.csv) to which tickers and ORG mentions resolve, so that one issuer is
     * one group; `ignore` lists mentions that are never issuers (besides fragments, stop words,
     * exchanges and "finsentry"). With a file, the values of the dimension named `dimension` are the
     * resolved issuer ids (src/stats/story-observations.ts).
     */
    issuers: z
      .object({
        file: z.string().min(1).optional(),
        ignore: z.array(z.string().min(1)).default([]),
        dimension: z.string().min(1).default('issuer'),
      })
      .strict()
      .default({ ignore: [], dimension: 'issuer' }),
    /**
     * Stories (docs/alerting.md "Surge"): near-duplicate documents within `window` are one story, and
     * a story is counted once per group of `dedupDimensions`.
     */
    stories: z
      .object({
        window: duration.default(1_800_000),
        dedupDimensions: z.array(z.string().min(1)).default(['issuer', 'ticker']),
        /** Document kinds stories are identified in; a chat line is one voice, each its own story. */
        kinds: z.array(z.enum(['news', 'chat'])).default(['news']),
        /**
         * One story index in Redis for all replicas (src/stats/shared-stories.ts): copies of a story
         * read by different replicas get one story id. false: each process identifies stories alone.
         */
        shared: z.boolean().default(true),
      })
      .strict()
      .default({ window: 1_800_000, dedupDimensions: ['issuer', 'ticker'], kinds: ['news'], shared: true }),
  })
  .strict();

/**
 * Dimensions whose groups a model-risk reviewer judges for parity (the report's fairness figures,
 * design §5). Entity and ticker dimensions are refused (src/config/rules.ts): issuers are subjects of
 * the text, not groups of users or sources; names not in stats.dimensions are skipped by the report.
 */
const fairnessSchema = z
  .object({
    dimensions: z.array(z.string().min(1)).default(['region', 'source', 'language', 'platform', 'kind']),
  })
  .strict();

const comparison = z.enum(['>', '>=', '<', '<=']);

const alertRuleSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'identifier (letters, digits, underscore)'),
    kind: z.enum(['sentiment', 'fairness', 'drift', 'pipeline']),
    dimension: z.string().optional(),
    metric: z.string().min(1),
    feature: z.string().optional(),
    comparison,
    threshold: z.number(),
    /** Value at which a firing alert resolves (hysteresis); default = threshold. */
    resolveThreshold: z.number().optional(),
    window: duration.default(300_000),
    minSamples: z.number().int().min(0).optional(),
    /** Significance required in addition to the threshold (z-test p-value), when the metric has one. */
    maxPValue: z.number().min(0).max(1).optional(),
    /**
     * Fairness disparate_impact_ratio / demographic_parity_difference: simultaneous confidence level of
     * the figure's interval; the rule fires only when the whole interval lies beyond the threshold
     * (docs/alerting.md). Default 0.95.
     */
    confidence: z.number().gt(0.5).lt(1).optional(),
    /**
     * Fairness equalized_odds_difference: a group's TPR (FPR) of a class takes part only with at least
     * this many actual members (non-members) of the class in the window's labels. Default 10.
     */
    minClassSamples: z.number().int().min(0).optional(),
    /**
     * Trailing reference of this rule (ending where its window starts); default: evaluator.reference.
     * The surge rule reads 24 h of the issuer's own history (docs/alerting.md "Surge").
     */
    referenceWindow: duration.optional(),
    for: duration.default(0),
    /**
     * Drift rules: the reference — `baseline` (default: the pinned baseline evaluator.reference.name,
     * captured with `finsentry baseline capture`) or `trailing` (the evaluator.reference trailing window).
     */
    reference: z.enum(['baseline', 'trailing']).optional(),
    /** Drift metric cusum: allowance k (standard units, default 0.5) and dispersion φ of the binomial variance (default 1). */
    sequential: z
      .object({ k: z.number().positive().optional(), dispersion: z.number().min(1).optional() })
      .strict()
      .optional(),
    /** A firing alert resolves only once its condition has been clear this long (Prometheus keep_firing_for). */
    keepFiringFor: duration.default(0),
    severity: z.enum(['info', 'warning', 'critical']).default('warning'),
    summary: z.string().default('{{rule}} {{dimension}}={{group}} value {{value}}'),
    runbookUrl: z.string().default(''),
  })
  .strict();
export type AlertRuleConfig = z.infer<typeof alertRuleSchema>;

const evaluatorSchema = z
  .object({
    enabled: z.boolean().default(true),
    interval: duration.default(5_000),
    /** Leader lock expiry; a replica takes over at most this long after the leader dies. */
    leaderLease: duration.default(10_000),
    reference: z
      .object({
        kind: z.enum(['baseline', 'trailing']).default('trailing'),
        /** Baseline name for kind=baseline (captured with `finsentry baseline capture`). */
        name: z.string().default('default'),
        /** Trailing window length for kind=trailing, ending where the current window starts. */
        window: duration.default(3_600_000),
      })
      .strict()
      .default({ kind: 'trailing', name: 'default', window: 3_600_000 }),
    webhookUrl: z.string().url().optional(),
    /**
     * Clock of alert states and `for` durations: `wall` (the replica's clock, as Prometheus) or
     * `event` (the window store's watermark; replays and backfills faster than real time then raise
     * the same alerts at the same event times as live traffic). See EvaluatorOptions.clock.
     */
    clock: z.enum(['wall', 'event']).default('wall'),
    /**
     * Windows are read as far as every input partition got (the lowest partition watermark), except
     * partitions whose watermark has not moved for this long: idle ones do not hold windows back.
     */
    idlePartitionTimeout: duration.default(30_000),
  })
  .strict();

/**
 * A record ahead of its partition's event clock by more than the future skew is not counted; one by
 * less may still advance the watermark, and with it make on-time records late. A skew above the
 * allowed lateness would let one record push the watermark past records that are on time (issue: one
 * record stamped +30 min made 2,999 of 7,201 documents late). docs/guarantees.md#event-time.
 */
function checkEventTimeBounds(
  cfg: { limits: { maxFutureSkew: number }; stats: { allowedLateness: number } },
  ctx: z.RefinementCtx,
): void {
  const skew = cfg.limits.maxFutureSkew;
  const lateness = cfg.stats.allowedLateness;
  if (skew > lateness)
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['limits', 'maxFutureSkew'],
      message:
        `limits.maxFutureSkew (${formatDuration(skew)}) must not exceed stats.allowedLateness ` +
        `(${formatDuration(lateness)}): a record that far ahead would make on-time records late`,
    });
}

export const configSchema = z
  .object({
    kafka: kafkaSchema.default(() => kafkaSchema.parse({})),
    redis: redisSchema.default(() => redisSchema.parse({})),
    models: modelsSchema.default(() => modelsSchema.parse({})),
    batching: batchingSchema.default(() => batchingSchema.parse({})),
    limits: limitsSchema.default(() => limitsSchema.parse({})),
    codec: codecSchema.default(() => codecSchema.parse({})),
    stats: statsSchema.default(() => statsSchema.parse({})),
    evaluator: evaluatorSchema.default(() => evaluatorSchema.parse({})),
    fairness: fairnessSchema.default(() => fairnessSchema.parse({})),
    alerts: z
      .object({ rules: z.array(alertRuleSchema) })
      .strict()
      .optional(),
    metrics: z
      .object({ port: z.number().int().min(0).max(65535).default(9464), host: z.string().default('0.0.0.0') })
      .strict()
      .default({ port: 9464, host: '0.0.0.0' }),
    /**
     * Liveness per partition (src/pipeline/progress-watchdog.ts): lag and committed offsets are read
     * from the broker every `lagInterval`; a partition with records waiting and no commit for
     * `stallAfter` turns /healthz unhealthy.
     */
    health: z
      .object({ stallAfter: duration.default(60_000), lagInterval: duration.default(5_000) })
      .strict()
      .default({ stallAfter: 60_000, lagInterval: 5_000 }),
    tracing: z
      .object({
        enabled: z.boolean().default(false),
        endpoint: z.string().default('http://127.0.0.1:4318/v1/traces'),
        serviceName: z.string().default('finsentry'),
      })
      .strict()
      .default({ enabled: false, endpoint: 'http://127.0.0.1:4318/v1/traces', serviceName: 'finsentry' }),
    privacy: z
      .object({
        /** Key for the HMAC that pseudonymises chat author ids (design §10). */
        authorKey: secretRef.default({ env: 'FINSENTRY_AUTHOR_KEY' }),
        /** Key id carried in pseudonyms (`<id>:<hex>`); absent: bare hex (docs/security.md). */
        authorKeyId: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,16}$/)
          .optional(),
        /** Rotation window: the key in use before authorKey, with its id (both ids required). */
        previousAuthorKey: secretRef.optional(),
        previousAuthorKeyId: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,16}$/)
          .optional(),
        /** When authorKey takes over from previousAuthorKey (ISO 8601 instant). */
        rotateAt: z.string().datetime({ offset: true }).optional(),
        /** Replace PER entities' text on the enriched topic with keyed pseudonyms. */
        pseudonymisePersons: z.boolean().default(false),
      })
      .strict()
      .refine(
        (p) => !p.previousAuthorKey || (p.authorKeyId && p.previousAuthorKeyId && p.rotateAt),
        'privacy.previousAuthorKey needs authorKeyId, previousAuthorKeyId and rotateAt',
      )
      .default({ authorKey: { env: 'FINSENTRY_AUTHOR_KEY' }, pseudonymisePersons: false }),
    shutdown: z
      .object({ deadline: duration.default(30_000) })
      .strict()
      .default({ deadline: 30_000 }),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      })
      .strict()
      .default({ level: 'info' }),
  })
  .strict()
  .superRefine(checkEventTimeBounds)
  .transform((c) => ({ ...c, batching: withProviderBatching(c.batching, c.models.executionProvider) }));

export type FinsentryConfig = z.infer<typeof configSchema>;
export type KafkaConfig = FinsentryConfig['kafka'];
export type RedisConfig = FinsentryConfig['redis'];
export type ModelsConfig = FinsentryConfig['models'];
export type ModelSetConfig = ModelsConfig['sets'][number];
export type BatchingConfig = FinsentryConfig['batching'];
export type StatsConfig = FinsentryConfig['stats'];
export type DimensionConfig = StatsConfig['dimensions'][number];
export type LimitsConfig = FinsentryConfig['limits'];
export type CodecConfig = FinsentryConfig['codec'];
