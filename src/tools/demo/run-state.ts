import type { AlertEvent } from '../../alerts/events.js';
import { formatDuration } from '../../config/duration.js';
import type { OutputProducer } from '../../io/kafka/producer.js';
import type { ReplayPlan } from '../scenarios/replay-plan.js';
import { plannedMessages } from '../scenarios/replay-plan.js';
import type { ReplayProgress } from '../scenarios/replay.js';
import { DEMO_EVALUATOR_INTERVAL_MS } from './config.js';
import { Interrupted } from './errors.js';
import { CounterHistory, counterPoint, readFigures, type Figures } from './figures.js';
import { MetricSet } from './metrics-text.js';
import type { DemoSetup } from './preflight.js';
import type { ServiceProcess } from './service-process.js';
import type { DemoSummary } from './summary.js';
import type { TopicWatcher } from './topic-watcher.js';
import {
  progressAlertLine,
  progressLine,
  renderView,
  type DemoPhase,
  type ViewAlert,
  type ViewState,
} from './view.js';

/**
 * The one state object of a demo run (src/tools/demo/demo.ts): the pre-flight's fixed setup, what the
 * phases start (service, watcher, producer, plan), and what the 1-second ticker and the callbacks
 * update (figures, replay progress, alerts). Phases read and write it; the view is drawn from it.
 */
export class DemoRun {
  readonly abort = new AbortController();
  phase: DemoPhase = 'starting';
  readonly startedAtMs = Date.now();
  service: ServiceProcess | undefined;
  watcher: TopicWatcher | undefined;
  producer: OutputProducer | undefined;
  plan: ReplayPlan | undefined;
  replay: Promise<ReplayProgress> | undefined;
  replayStartedAtMs: number | null = null;
  figures: Figures | null = null;
  progress: ReplayProgress | null = null;
  /** The 1-second ticker of the replay and drain phases (scrape + draw). */
  ticker: NodeJS.Timeout | undefined;
  interrupted = false;
  failure: unknown;
  summary: DemoSummary | undefined;
  readonly history = new CounterHistory();
  readonly recentAlerts: ViewAlert[] = [];
  /** Whether the local Prometheus scrapes the service's port. */
  scraped = false;
  /** The largest watermark seen (the store's watermark is the maximum over partitions). */
  maxWatermarkMs = 0;
  /** After the last record is committed, a few more evaluator rounds at the final watermark. */
  readonly settleMs = 3 * DEMO_EVALUATOR_INTERVAL_MS;
  private scraping = false;
  private lastProgressLine = 0;
  private signals = 0;

  constructor(readonly setup: DemoSetup) {}

  /**
   * A first Ctrl-C (SIGTERM, SIGHUP) aborts the run, which then stops in order (replay, then the
   * service); a second one kills the service and exits at once. Whatever ends the process, the service
   * never outlives the demo (the exit handler).
   */
  listenForSignals(): void {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    process.on('SIGHUP', this.onSignal);
    process.on('exit', this.onExit);
  }

  stopListeningForSignals(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    process.off('SIGHUP', this.onSignal);
  }

  stopListeningForExit(): void {
    process.off('exit', this.onExit);
  }

  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.signals++;
    if (this.signals > 1) {
      this.setup.out.stderr.write(`\nfinsentry demo: second ${signal}: killing the service and exiting\n`);
      if (this.service?.running) this.service.child.kill('SIGKILL');
      process.exit(130);
    }
    if (this.phase !== 'done')
      this.say(`${signal}: stopping (replay, then the service; Ctrl-C again to kill)`);
    this.abort.abort();
  };

  private readonly onExit = (): void => {
    if (this.service?.running) this.service.child.kill('SIGTERM');
    if (this.setup.tty) this.setup.out.stdout.write('\x1b[?25h');
  };

  say(line: string): void {
    this.setup.say(line);
  }

  /** Throws Interrupted once a signal has arrived: the phases call it between steps. */
  check(): void {
    if (this.abort.signal.aborted) throw new Interrupted('interrupted');
  }

  metricsUrl(): string {
    const { metricsHost, metricsPort } = this.setup;
    return `http://${metricsHost}:${this.service?.port ?? metricsPort}/metrics`;
  }

  viewState(): ViewState {
    const { o, demo, config, prometheusUp, prometheusUrl } = this.setup;
    const surgeRule = demo.rules.find((r) => r.kind === 'sentiment' && r.dimension === 'issuer');
    const fairnessRule = demo.rules.find((r) => r.kind === 'fairness' && r.dimension === 'region');
    const run = this.plan?.run;
    return {
      runId: this.setup.runId,
      scenario: 'mixed',
      seed: o.seed,
      phase: this.phase,
      startedAtMs: this.startedAtMs,
      nowMs: Date.now(),
      eventStartMs: this.plan?.startMs ?? 0,
      eventEndMs: this.plan?.endMs ?? 0,
      speedup: o.speedup,
      replay: {
        sent: this.progress?.sent ?? 0,
        // The plan is an estimate (arrivals are random); the count is exact once the generator is done.
        total: run?.truth.complete ? run.truth.counts.total : plannedMessages(o),
        ratePerSecond: this.progress?.rate ?? 0,
        eventTimeMs: this.progress?.eventTimeMs ?? null,
      },
      figures: this.figures,
      alerts: this.recentAlerts,
      activeAlerts: this.watcher?.alerts.active() ?? [],
      deadLettersRead: this.watcher?.deadLettersSeen ?? 0,
      issuerMinDocuments: surgeRule?.minSamples ?? config.stats.minSamples,
      issuerWindow: formatDuration(surgeRule?.window ?? 300_000),
      fairnessWindow: formatDuration(fairnessRule?.window ?? 3_600_000),
      metricsUrl: this.metricsUrl(),
      prometheusUrl: prometheusUp ? prometheusUrl : null,
    };
  }

  /** Redraws the live view (terminal), or writes a progress line at most every 5 s (or when forced). */
  draw(force = false): void {
    const { tty, out } = this.setup;
    const s = this.viewState();
    if (tty) {
      const width = Math.max(60, (out.stdout.columns ?? 100) - 1);
      const lines = renderView(s, width);
      out.stdout.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`);
    } else if (force || s.nowMs - this.lastProgressLine >= 5_000) {
      this.lastProgressLine = s.nowMs;
      out.stdout.write(`${progressLine(s)}\n`);
    }
  }

  setPhase(next: DemoPhase): void {
    this.phase = next;
    if (!this.setup.tty) this.draw(true);
  }

  /** Reads the service's /metrics into `figures`; one scrape at a time. */
  async scrape(): Promise<void> {
    // A busy service answers slowly, and piling up requests would not help it.
    if (!this.service?.port || this.scraping) return;
    this.scraping = true;
    try {
      const res = await fetch(`http://${this.setup.metricsHost}:${this.service.port}/metrics`, {
        signal: AbortSignal.timeout(5_000),
      });
      if (!res.ok) return;
      const set = MetricSet.parse(await res.text());
      const now = Date.now();
      this.history.push(counterPoint(set, now));
      const f = readFigures(set, this.history, now);
      // The gauge follows the partition of the latest batch; the store's watermark (what the windows
      // and the evaluator run on) is the maximum over partitions, so the view keeps the maximum.
      if (f.pipeline.watermarkMs !== null) {
        this.maxWatermarkMs = Math.max(this.maxWatermarkMs, f.pipeline.watermarkMs);
        f.pipeline.watermarkMs = this.maxWatermarkMs;
      }
      this.figures = f;
    } catch (err) {
      this.setup.logger.debug({ err }, 'metrics scrape failed');
    } finally {
      this.scraping = false;
    }
  }

  /** An alert event read back from the alerts topic: into the view (and a progress line off a terminal). */
  alertSeen(event: AlertEvent): void {
    const a: ViewAlert = { event, eventTimeMs: changedAtMs(event) };
    this.recentAlerts.push(a);
    if (this.recentAlerts.length > 200) this.recentAlerts.shift();
    if (!this.setup.tty) this.setup.out.stdout.write(`${progressAlertLine(this.viewState(), a)}\n`);
  }

  /** Ends the run's try block: a failure found by the ticker aborts the run too and stays a failure. */
  recordError(err: unknown): void {
    if (this.failure !== undefined) return;
    if (err instanceof Interrupted || this.abort.signal.aborted) this.interrupted = true;
    else this.failure = err;
  }

  stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }
}

/** Under evaluator.clock event, alert states carry event times (the watermark they were decided at). */
function changedAtMs(e: AlertEvent): number {
  if (e.state === 'firing' && e.labels.firing_since) return Date.parse(e.labels.firing_since);
  if ((e.state === 'resolved' || e.state === 'inactive') && e.ended_at !== null) return e.ended_at;
  return e.started_at;
}
