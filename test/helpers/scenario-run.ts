// One scenario end to end on the real local stack: `finsentry run` (pipeline + evaluator, as child
// process) with given models, `finsentry replay --scenario …` (child process) into fresh topics, then
// everything the run produced read back: alert events, enriched ids, dead letters, the ground truth.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Consumer } from 'kafkajs';
import { DEFAULT_ALERT_RULES_RAW, withTrailingDriftReference } from '../../src/alerts/default-rules.js';
import { decodeAlertEvent, type AlertEvent } from '../../src/alerts/events.js';
import { decodeEnriched } from '../../src/codec/enriched.js';
import { readDeadLetterHeaders } from '../../src/pipeline/dlq.js';
import type { DocumentTruth, GroundTruth, ScenarioName } from '../../src/tools/scenarios/ground-truth.js';
import type { ObservedAlert, ScenarioScore } from '../../src/tools/scenarios/scoring.js';
import { readAll, testKafka } from './avro-producer.js';
import { logLines, repoRoot, startFinsentry, waitForLog } from './finsentry-cli.js';
import { GroupProgress, ProcessorProcess, type Exited } from './processor-process.js';
import { createTopic, deleteTopics, kafkaBrokers, redisUrl, uniqueName, waitFor } from './stack.js';

export interface ScenarioSpec {
  scenario: ScenarioName;
  seed: number;
  /** Event-time span of the scenario. */
  durationMs: number;
  /** Documents per minute of event time. */
  eventsPerMinute: number;
  /** Messages produced per wall-clock second; the speedup is this over the event rate. */
  wallRate: number;
  /** Issuers in play (default: the whole universe of 60). */
  universe?: number;
  /**
   * Security master for the service (stats.issuers.file, relative to the repository): tickers, names
   * and chat nicknames of one issuer resolve to its id, so that one issuer is one group (design §5).
   */
  issuersFile?: string;
  /** `finsentry replay --realism` (src/tools/scenarios/realism.ts; default off). */
  realism?: 'off' | 'modest' | 'issue';
  /** `finsentry replay --bias-ratio`: the planted disparate impact ratio of region-bias (default 0.6). */
  biasRatio?: number;
}

export interface ModelPaths {
  sentiment: string;
  /** null: no NER model (no entity-based groups such as `issuer`). */
  ner: string | null;
  /** models.languages (default: the config default, English). */
  languages?: readonly string[];
  /** models.sets: further model sets by language (default none: only the pair above scores). */
  sets?: ReadonlyArray<{ name: string; path: string; languages: readonly string[] }>;
}

/** An alert episode that went pending and back to inactive without firing (reported, not scored). */
export interface PendingEpisode {
  rule: string;
  dimension: string | null;
  group: string | null;
  pendingAtMs: number;
}

export interface ScenarioResult {
  spec: ScenarioSpec;
  speedup: number;
  truth: GroundTruth;
  documents: DocumentTruth[];
  events: AlertEvent[];
  observed: ObservedAlert[];
  pendingOnly: PendingEpisode[];
  summaries: Map<ObservedAlert, string>;
  enrichedIds: Set<string>;
  /** Per enriched document: why it has no sentiment (null: scored) and the tickers the pipeline gave it. */
  enriched: Map<string, { unscored: string | null; tickers: string[] }>;
  deadLetters: Array<{ key: string; reason: string | undefined; message: string | undefined }>;
  service: Exited & { output: string };
  wallMs: { startup: number; replay: number; drain: number; evaluate: number; stop: number; total: number };
  /** Largest consumer lag sampled while the replay ran and the pipeline drained (messages). */
  maxLag: number;
  /** Largest sampled spread of the input partitions' event-time watermarks in the window store. */
  maxSkewMs: number;
}

const SCHEMA_IDS = { news: 31, chat: 32 };

/** Event time every scenario starts at (in the past: no event time is ahead of the consumer's clock). */
export const SCENARIO_START = '2026-01-05T08:00:00.000Z';

/**
 * Alert episodes from the events of one run (event clock: every time is event time). Events of one
 * fingerprint arrive in order (one key, one partition); a republished event (same event_id) is
 * counted once.
 */
export function episodes(events: readonly AlertEvent[]): {
  observed: ObservedAlert[];
  pendingOnly: PendingEpisode[];
  /** The summary of each episode's firing event (it names the value, sample and significance). */
  summaries: Map<ObservedAlert, string>;
} {
  const summaries = new Map<ObservedAlert, string>();
  const seen = new Set<string>();
  const open = new Map<string, ObservedAlert>();
  const pending = new Map<string, PendingEpisode>();
  const observed: ObservedAlert[] = [];
  const pendingOnly: PendingEpisode[] = [];
  for (const e of events) {
    const id = e.labels.event_id ?? `${e.fingerprint}:${e.started_at}:${e.state}`;
    if (seen.has(id)) continue;
    seen.add(id);
    if (e.state === 'pending') {
      pending.set(e.fingerprint, {
        rule: e.rule,
        dimension: e.dimension,
        group: e.group,
        pendingAtMs: e.started_at,
      });
    } else if (e.state === 'inactive') {
      const p = pending.get(e.fingerprint);
      if (p) pendingOnly.push(p);
      pending.delete(e.fingerprint);
    } else if (e.state === 'firing') {
      pending.delete(e.fingerprint);
      const firingSince = e.labels.firing_since;
      const alert: ObservedAlert = {
        rule: e.rule,
        dimension: e.dimension,
        group: e.group,
        feature: e.labels.feature ?? null,
        firingAtMs: firingSince ? Date.parse(firingSince) : e.started_at,
        resolvedAtMs: null,
      };
      observed.push(alert);
      summaries.set(alert, e.summary);
      open.set(e.fingerprint, alert);
    } else if (e.state === 'resolved') {
      const alert = open.get(e.fingerprint);
      if (alert) alert.resolvedAtMs = e.ended_at ?? null;
      open.delete(e.fingerprint);
    }
  }
  return { observed, pendingOnly, summaries };
}

async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl());
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * Spread (max − min) of the partitions' watermarks in the window store: the evaluator reads windows
 * as of the largest one, so the lagging partitions' latest documents are missing from them.
 */
async function watermarkSkew(redis: Redis, keyPrefix: string): Promise<number> {
  const values = await partitionWatermarks(redis, keyPrefix);
  return values.length < 2 ? 0 : Math.max(...values) - Math.min(...values);
}

/** The input partitions' watermarks in the window store (read directly: the test is a second client). */
async function partitionWatermarks(redis: Redis, keyPrefix: string): Promise<number[]> {
  const partitions = await redis.smembers(`${keyPrefix}:partitions`);
  const wms = await Promise.all(partitions.map((pk) => redis.hget(`${keyPrefix}:s:{${pk}}:state`, 'wm')));
  return wms.map(Number).filter((v) => v > 0);
}

async function metricValue(port: number, name: string): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const line = (await res.text())
    .split('\n')
    .find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

/** Runs one scenario through `finsentry run` (evaluator on the event clock) and reads back what it produced. */
export async function runScenario(spec: ScenarioSpec, models: ModelPaths): Promise<ScenarioResult> {
  const t0 = Date.now();
  const kafka = testKafka(`scenario-${spec.scenario}`);
  const dir = mkdtempSync(path.join(tmpdir(), `fs-scenario-${spec.scenario}-`));
  const base = uniqueName(`fs-scn-${spec.scenario}`);
  const topics = {
    news: `${base}.news`,
    chat: `${base}.chat`,
    labels: null,
    enriched: `${base}.enriched`,
    alerts: `${base}.alerts`,
    dlq: `${base}.dlq`,
    late: `${base}.late`,
  };
  const groupId = `${base}-group`;
  const keyPrefix = base.replace(/[^A-Za-z0-9:_-]/g, '_');
  const speedup = spec.wallRate / (spec.eventsPerMinute / 60);
  const configPath = path.join(dir, 'finsentry.json');
  const truthPath = path.join(dir, 'truth.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      kafka: { brokers: kafkaBrokers(), groupId, topics, sessionTimeout: '10s' },
      redis: { url: redisUrl(), keyPrefix },
      // Event time runs `speedup` times faster than wall time: a quiet partition's clock may advance
      // that much faster before a record counts as future (stats.eventTimeRate).
      stats: {
        eventTimeRate: speedup,
        ...(spec.issuersFile ? { issuers: { file: path.join(repoRoot, spec.issuersFile) } } : {}),
      },
      // Schema ids for both inputs: the replay then frames half of the values in the Confluent
      // format, and the `wrong-schema` poison kind becomes possible.
      codec: {
        schemaIds: {
          [String(SCHEMA_IDS.news)]: 'io.finsentry.NewsArticle',
          [String(SCHEMA_IDS.chat)]: 'io.finsentry.ChatMessage',
        },
      },
      models: {
        sentiment: { path: models.sentiment },
        ner: models.ner === null ? null : { path: models.ner, aggregation: 'simple' },
        ...(models.languages ? { languages: models.languages } : {}),
        sets: models.sets ?? [],
        intraOpThreads: 1,
      },
      // Below the broker's 1 MB so that the `message-too-large` poison kind reaches finsentry.
      limits: { maxMessageBytes: 262_144 },
      // Throughput on a 2-core machine (docs/benchmarks.md): a 1,024-token batch budget keeps short
      // texts out of long texts' padding, one intra-op thread per model keeps the two models from
      // fighting over the cores. About twice the documents per second of the defaults here.
      batching: { maxBatchTokens: 1024 },
      // The event clock: `for` and alert times run on the statistics' watermark, so the replay's
      // speedup does not change which alerts fire or when (in event time). Frequent rounds keep one
      // round a small slice of event time.
      // Idle after 10 s without progress (default 30 s): once the replay is drained the grace period is
      // waived only when every partition is idle, and these last rounds were ~33 s of every scenario.
      // While the replay runs every partition gets records each second, and one with records waiting
      // is never idle (src/alerts/evaluator.ts evaluationWatermark).
      evaluator: { enabled: true, interval: '500ms', clock: 'event', idlePartitionTimeout: '10s' },
      // A scenario replays a few hours into an empty store: no baseline to pin, drift on the trailing window.
      alerts: { rules: withTrailingDriftReference(DEFAULT_ALERT_RULES_RAW) },
      metrics: { port: 0, host: '127.0.0.1' },
      shutdown: { deadline: '30s' },
      log: { level: 'info' },
    }),
  );
  const alertEvents: AlertEvent[] = [];
  let consumer: Consumer | undefined;
  // `finsentry run` refuses to start without its input topics. A broker under load sometimes answers
  // the leader check of a topic it has just created with UNKNOWN_TOPIC_OR_PARTITION: try again.
  for (const topic of [topics.news, topics.chat])
    await waitFor(() => createTopic(topic, 3).then(() => true), 60_000, 1_000);
  const service = ProcessorProcess.start(configPath, `finsentry run (${spec.scenario})`);
  const progress = new GroupProgress(kafka, groupId, [topics.news, topics.chat]);
  let maxLag = 0;
  let maxSkewMs = 0;
  const redis = new Redis(redisUrl());
  let sampling = false;
  let sampler: Promise<void> = Promise.resolve();
  try {
    // Model loading and warm-up dominate start-up; the evaluator starts last.
    await waitForLog(() => service, 'evaluator started', 240_000);
    const listening = await waitForLog(() => service, 'ops server listening', 1_000);
    const metricsPort = Number(listening.port);
    consumer = kafka.consumer({ groupId: uniqueName('scenario-alerts-reader') });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.alerts, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => void alertEvents.push(decodeAlertEvent(message.value!)),
    });
    const tStarted = Date.now();
    // The consumer lag, sampled twice a second: how far behind the replay the pipeline ran.
    sampling = true;
    sampler = (async () => {
      while (sampling) {
        const [written, committed] = await Promise.all([progress.written(), progress.committed()]).catch(
          () => [0, 0],
        );
        maxLag = Math.max(maxLag, written - committed);
        maxSkewMs = Math.max(maxSkewMs, await watermarkSkew(redis, keyPrefix).catch(() => 0));
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();

    const replay = startFinsentry([
      'replay',
      '--scenario',
      spec.scenario,
      '--config',
      configPath,
      '--seed',
      String(spec.seed),
      // A fixed start: the texts (dates in them) and the alignment of the 1-minute buckets to the
      // scenario's timeline are then the same on every run, and with the event clock so is the
      // whole alert timeline (the default start, "now − duration + duration/speedup", moves both).
      '--start',
      SCENARIO_START,
      '--duration',
      `${Math.round(spec.durationMs / 1000)}s`,
      '--rate',
      String(spec.wallRate),
      '--speedup',
      String(speedup),
      '--truth-out',
      truthPath,
      '--quiet',
      ...(spec.universe !== undefined ? ['--universe', String(spec.universe)] : []),
      ...(spec.realism !== undefined ? ['--realism', spec.realism] : []),
      ...(spec.biasRatio !== undefined ? ['--bias-ratio', String(spec.biasRatio)] : []),
    ]);
    // A bound against a hung replay, not a pace check: two runs at once beside two busy loops took
    // 181 s to replay issuer-surge's 44 nominal seconds (the old bound, 3x + 60 s, killed the
    // compliant-gap replay at 168 s). The pace does not change the result (event clock).
    const replayBudgetMs = (spec.durationMs / speedup) * 10 + 300_000;
    const timer = setTimeout(() => replay.child.kill('SIGKILL'), replayBudgetMs);
    const replayed = await replay.exited.finally(() => clearTimeout(timer));
    if (replayed.code !== 0)
      throw new Error(
        `finsentry replay exited ${replayed.code ?? replayed.signal} (budget ${Math.round(replayBudgetMs / 1000)} s):\n${replayed.output.slice(-3000)}`,
      );
    const tReplayed = Date.now();

    // Drained: every input record committed (enriched or dead-lettered, and in the window store).
    // A bound for a loaded machine: two runs at once (scenarios.test.ts) beside other load drain the
    // largest scenario in about twice the 300 s they take alone on a quiet machine.
    await waitFor(() => progress.allCommitted(), 1_200_000, 250).catch((err: unknown) => {
      throw new Error(
        `${(err as Error).message}\n--- finsentry run output (tail) ---\n${service.output.slice(-3000)}`,
      );
    });
    const tDrained = Date.now();
    sampling = false;
    await sampler;
    // The evaluator has stepped through every complete bucket of the drained statistics (event
    // clock: windows as far as the slowest partition got) and published what that changed.
    const finalEndMs =
      Math.floor((await partitionWatermarks(redis, keyPrefix).then((w) => Math.min(...w))) / 60_000) * 60_000;
    await waitFor(
      async () =>
        ((await metricValue(metricsPort, 'finsentry_evaluation_event_time_seconds')) ?? 0) * 1000 >=
        finalEndMs,
      300_000,
      250,
    );
    // Read to the end by position: the alert publisher writes in transactions, and the topic ends with
    // a commit marker (a reader waiting for the last message timed out here, and the count fell to 0).
    const alertsEnd = (await readAll(kafka, topics.alerts)).length;
    await waitFor(() => alertEvents.length >= alertsEnd, 30_000, 100);
    const tEvaluated = Date.now();

    const stopped = { ...(await service.stop()), output: service.output };
    const tStopped = Date.now();

    const file = JSON.parse(readFileSync(truthPath, 'utf8')) as {
      documents: DocumentTruth[];
      truth: GroundTruth;
    };
    const enriched = new Map(
      (await readAll(kafka, topics.enriched)).map((r) => {
        const e = decodeEnriched(r.message.value!);
        return [e.id, { unscored: e.unscored_reason, tickers: e.attributes.tickers }] as const;
      }),
    );
    const enrichedIds = new Set(enriched.keys());
    const deadLetters = (await readAll(kafka, topics.dlq)).map((r) => {
      const h = readDeadLetterHeaders(r.message.headers);
      return { key: r.message.key?.toString() ?? '', reason: h.reason, message: h.message };
    });
    const { observed, pendingOnly, summaries } = episodes(alertEvents);
    return {
      spec,
      speedup,
      truth: file.truth,
      documents: file.documents,
      events: alertEvents,
      observed,
      pendingOnly,
      summaries,
      enrichedIds,
      enriched,
      deadLetters,
      service: stopped,
      wallMs: {
        startup: tStarted - t0,
        replay: tReplayed - tStarted,
        drain: tDrained - tReplayed,
        evaluate: tEvaluated - tDrained,
        stop: tStopped - tEvaluated,
        total: Date.now() - t0,
      },
      maxLag,
      maxSkewMs,
    };
  } finally {
    sampling = false;
    await sampler;
    redis.disconnect();
    await service.ensureStopped();
    await progress.close();
    await consumer?.disconnect().catch(() => undefined);
    if (process.env.FINSENTRY_SCENARIO_KEEP) {
      // Debugging: leave the topics, the Redis keys and the run directory for inspection.
      console.log(
        `scenario ${spec.scenario}: kept topics ${base}.*, Redis prefix ${keyPrefix}, directory ${dir}`,
      );
    } else {
      await deleteTopics([
        topics.news,
        topics.chat,
        topics.enriched,
        topics.alerts,
        topics.dlq,
        topics.late,
      ]).catch(() => undefined);
      await deleteRedisPrefix(keyPrefix).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

const minutes = (ms: number | null): string => (ms === null ? '–' : `${(ms / 60_000).toFixed(1)} min`);

/** A readable account of one scored run for the test output (the issue's closing note quotes it). */
export function describeScore(result: ScenarioResult, score: ScenarioScore): string {
  const { truth, spec } = result;
  const lines = [
    `scenario ${spec.scenario} (seed ${spec.seed}): ${truth.counts.total} documents over ${minutes(truth.endMs - truth.startMs)} of event time ` +
      `at x${result.speedup.toFixed(0)} (${spec.wallRate}/s wall); wall ${(result.wallMs.total / 1000).toFixed(0)} s ` +
      `(start-up ${(result.wallMs.startup / 1000).toFixed(0)} s, replay ${(result.wallMs.replay / 1000).toFixed(0)} s, drain ${(result.wallMs.drain / 1000).toFixed(0)} s, ` +
      `last rounds ${(result.wallMs.evaluate / 1000).toFixed(0)} s, stop ${(result.wallMs.stop / 1000).toFixed(0)} s); ` +
      `largest consumer lag ${result.maxLag} messages (${minutes((result.maxLag / spec.eventsPerMinute) * 60_000)} of event time), ` +
      `largest partition watermark spread ${minutes(result.maxSkewMs)}`,
  ];
  for (const e of truth.injected)
    lines.push(
      `  injected ${e.kind}: ${minutes(e.fromMs - truth.startMs)} → ${minutes(e.toMs - truth.startMs)}: ${e.description}`,
    );
  if (score.detections.length === 0) lines.push('  expected alerts: none');
  for (const d of score.detections) {
    const what = [d.expected.rule, d.expected.dimension, d.expected.group ?? d.expected.feature]
      .filter(Boolean)
      .join(' ');
    lines.push(
      `  expected ${what}: ${d.detected ? `detected after ${minutes(d.delayMs)}` : 'NOT detected'} (allowed ${minutes(d.expected.detectWithinMs)})` +
        (d.expected.resolveWithinMs === null
          ? ''
          : `, resolved ${d.resolveDelayMs === null ? 'never' : `${minutes(d.resolveDelayMs)} after the end`} (allowed ${minutes(d.expected.resolveWithinMs)})`),
    );
  }
  lines.push(`  false alerts: ${score.falseAlerts.length}`);
  for (const f of score.falseAlerts)
    lines.push(
      `    ${f.rule} ${f.dimension ?? ''} ${f.group ?? f.feature ?? ''} firing at ${minutes(f.firingAtMs! - truth.startMs)}: ${result.summaries.get(f) ?? ''}`,
    );
  for (const t of score.tolerated)
    lines.push(
      `  tolerated (an effect through the model, see the ground truth): ${t.rule} ${t.group ?? t.feature ?? ''} firing at ${minutes(t.firingAtMs! - truth.startMs)}: ${result.summaries.get(t) ?? ''}`,
    );
  if (result.pendingOnly.length > 0)
    lines.push(
      `  pending without firing (not alerts): ${result.pendingOnly.map((p) => `${p.rule} ${p.group ?? ''} at ${minutes(p.pendingAtMs - truth.startMs)}`).join('; ')}`,
    );
  for (const e of result.events.slice(0, 30))
    lines.push(
      `    event ${e.rule} ${e.group ?? e.labels.feature ?? ''} → ${e.state}: value ${e.value.toFixed(3)}, n=${e.sample_size}` +
        `${e.p_value === null ? '' : `, p=${e.p_value.toExponential(1)}`}, since ${minutes(e.started_at - truth.startMs)}` +
        `${e.ended_at === null ? '' : `, ended ${minutes(e.ended_at - truth.startMs)}`}`,
    );
  const problems = logLines(result.service.output).filter((l) => Number(l.level) >= 40);
  if (problems.length > 0)
    lines.push(
      `  service warnings/errors (${problems.length}): ${[...new Set(problems.map((l) => String(l.msg)))].slice(0, 5).join(' | ')}`,
    );
  const dead = new Map<string, number>();
  for (const d of result.deadLetters) dead.set(d.reason ?? '?', (dead.get(d.reason ?? '?') ?? 0) + 1);
  lines.push(
    `  enriched ${result.enrichedIds.size}, dead letters ${result.deadLetters.length}${dead.size ? ` (${[...dead].map(([r, n]) => `${r} ${n}`).join(', ')})` : ''}`,
  );
  return lines.join('\n');
}

/** Pipeline counters the service logged at its clean stop (documents, batches, DLQ…), when it did. */
export function stopCounters(result: ScenarioResult): Record<string, unknown> | undefined {
  const line = logLines(result.service.output).find((l) => l.msg === 'finsentry stopped cleanly');
  return line?.counters as Record<string, unknown> | undefined;
}
