import { describe, expect, it } from 'vitest';
import { defaultAlertRules } from '../../../../src/alerts/default-rules.js';
import { DEFAULT_PRESET, nullTraffic, surgeTraffic } from '../../../../src/tools/backtest/presets.js';
import { runBacktest } from '../../../../src/tools/backtest/backtest.js';
import { formatTable, scoreBacktest } from '../../../../src/tools/backtest/score.js';
import { memoryBacktestStore } from '../../../../src/tools/backtest/store.js';
import { selectUniverse } from '../../../../src/tools/scenarios/generate.js';

/**
 * Short backtests (docs/alerting.md "Backtest") on the traffic: 300 documents/minute, 500
 * Zipf issuers with their own base rates, stories syndicated 1 + Poisson(1.5) times, arrival delays,
 * a daily cycle — two simulated hours each, through the default rules on in-memory windows.
 */
const rules = defaultAlertRules();
const HOUR = 3_600_000;
// Afternoon UTC: the busy part of the daily cycle.
const preset = { ...DEFAULT_PRESET, days: 2 / 24, startMs: Date.UTC(2026, 0, 5, 12) };

describe('backtest', () => {
  it('null traffic with syndication and issuer-specific rates raises no alert on any default rule', async () => {
    const run = await runBacktest({
      scenario: nullTraffic(preset),
      rules,
      mode: 'stories',
      model: { accuracy: 0.85 },
      store: memoryBacktestStore,
    });
    expect(run.documents).toBeGreaterThan(30_000);
    // syndication is there, and the dedup saw it
    expect(run.duplicatesSkipped).toBeGreaterThan(0.1 * run.documents);
    // The bound, ≤ 1 false alert per day over all default rules together, allows
    // floor(days) alerts in a run of `days`: none in these two hours.
    const falseAlerts = scoreBacktest(run.truth, run.alerts, rules).reduce((s, r) => s + r.falseAlerts, 0);
    expect(falseAlerts).toBeLessThanOrEqual(Math.floor(1 * preset.days));
    expect(run.alerts).toEqual([]);
    expect(run.evaluations).toBeGreaterThan(100);
  }, 600_000);

  // High volume: the 3rd issuer by coverage (about 9 stories a minute on the daily mean at 300
  // documents/min over 500 Zipf issuers, 13 in this afternoon hour). Mid volume: the 10th (about 2.8
  // stories a minute on the mean, 3–4 in this hour) — the middle of the issuers the surge rule judges at
  // all (it needs 10 stories in 5 minutes: ranks 1 to about 20 at this traffic).
  //
  // Not a test at mid volume: the shipped rule finds it by chance (measured 2026-12-07, seeds 1–3: rank 6
  // found in 1 of 3 at 7.0 minutes, rank 10 in 1 of 3 at 11.0; nothing else fired). At 10–20 stories in
  // 5 minutes the beta-binomial p-value of the surge reaches 1e-3 at best (rank 10: 10 of 14 negative
  // against 0.24, p = 9.6e-4), and Benjamini–Hochberg over the ~45 issuers judged each round lifts it to
  // q = 0.046, above maxPValue 0.001; docs/alerting.md "Backtest" gives the information bound and a
  // sequential test that was tried; `finsentry backtest --traffic surge --surge-rank 10` prints that row.
  const surgeCase = (volume: string, rank: number) => async () => {
    const scenario = surgeTraffic(preset, { startAfterMs: HOUR, minutes: 20, rank });
    const run = await runBacktest({
      scenario,
      rules,
      mode: 'stories',
      model: { accuracy: 0.85 },
      store: memoryBacktestStore,
    });
    const surgeIssuer = selectUniverse(preset.issuers).find((i) => i.ticker === scenario.surge!.ticker)!;
    const rows = scoreBacktest(run.truth, run.alerts, rules);
    console.log(`surge at ${volume} volume (rank ${rank}, ${surgeIssuer.ticker}):\n${formatTable(rows)}`);
    // one alert, on the issuer id: not on its ticker or its name as a second group
    expect(run.alerts.map((a) => `${a.rule}/${a.dimension}/${a.group}`)).toEqual([
      `NegativeSentimentSurge/issuer/${surgeIssuer.ticker.toLowerCase()}`,
    ]);
    const row = rows.find((r) => r.rule === 'NegativeSentimentSurge')!;
    expect(rows.reduce((s, r) => s + r.falseAlerts, 0)).toBe(0);
    expect(row.detections).toHaveLength(1);
    expect(row.detections[0]!.episodes).toBe(1);
    expect(row.detections[0]!.delayMs!).toBeLessThanOrEqual(10 * 60_000);
    expect(row.detections[0]!.resolveDelayMs!).toBeLessThanOrEqual(20 * 60_000);
  };
  const title = (volume: string, rank: number) =>
    `an issuer at ${volume} volume (rank ${rank}) going to 0.7 negative for 20 minutes is one alert on one issuer, within 10 minutes, resolved within 20, nothing else fires`;
  it(title('high', 3), surgeCase('high', 3), 600_000);
});
