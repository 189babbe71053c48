import { describe, expect, it } from 'vitest';
import { defaultAlertRules } from '../../../../src/alerts/default-rules.js';
import { DEFAULT_PRESET, nullTraffic, surgeTraffic } from '../../../../src/tools/backtest/presets.js';
import { runBacktest } from '../../../../src/tools/backtest/backtest.js';
import { scoreBacktest } from '../../../../src/tools/backtest/score.js';
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
    expect(run.alerts).toEqual([]);
    expect(run.evaluations).toBeGreaterThan(100);
  }, 600_000);

  it('an issuer going to 0.7 negative for 20 minutes is one alert on one issuer, within 10 minutes, resolved within 20', async () => {
    const scenario = surgeTraffic(preset, { startAfterMs: HOUR, minutes: 20, rank: 3 });
    const run = await runBacktest({
      scenario,
      rules,
      mode: 'stories',
      model: { accuracy: 0.85 },
      store: memoryBacktestStore,
    });
    const surgeIssuer = selectUniverse(preset.issuers).find((i) => i.ticker === scenario.surge!.ticker)!;
    expect(run.alerts.map((a) => `${a.rule}/${a.group}`)).toEqual([
      `NegativeSentimentSurge/${surgeIssuer.ticker.toLowerCase()}`,
    ]);
    const [row] = scoreBacktest(run.truth, run.alerts, rules).filter(
      (r) => r.rule === 'NegativeSentimentSurge',
    );
    expect(row!.falseAlerts).toBe(0);
    expect(row!.detections).toHaveLength(1);
    expect(row!.detections[0]!.delayMs!).toBeLessThanOrEqual(10 * 60_000);
    expect(row!.detections[0]!.resolveDelayMs!).toBeLessThanOrEqual(20 * 60_000);
  }, 600_000);
});
