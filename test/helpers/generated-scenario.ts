// A scenario generated in memory, all messages drawn: the defaults the generator's unit tests share.
import {
  generateScenario,
  type ScenarioMessage,
  type ScenarioOptions,
} from '../../src/tools/scenarios/generate.js';
import type { GroundTruth } from '../../src/tools/scenarios/ground-truth.js';

export const START = Date.UTC(2026, 0, 5, 9, 0, 0);
export const HOUR = 3_600_000;
export const IDS = { news: 11, chat: 12 };

/** Two hours at 2 documents a second over 16 issuers, seed 42, both wire formats; `options` win. */
export function generateAll(options: Partial<ScenarioOptions> & Pick<ScenarioOptions, 'name'>): {
  truth: GroundTruth;
  messages: ScenarioMessage[];
} {
  const r = generateScenario({
    seed: 42,
    startMs: START,
    durationMs: 2 * HOUR,
    ratePerSecond: 2,
    universeSize: 16,
    schemaIds: IDS,
    ...options,
  });
  const messages = [...r.messages];
  return { truth: r.truth, messages };
}
