import type { RealismOptions } from '../scenarios/realism.js';

export const DEFAULT_METRICS_PORT = 9464;
export const DEFAULT_PROMETHEUS_URL = 'http://127.0.0.1:9090';
export const DEFAULT_ALERTMANAGER_URL = 'http://127.0.0.1:9093';

export interface DemoOptions {
  /** Event-time span of the scenario. */
  durationMs: number;
  /** Wall-clock messages per second produced. */
  rate: number;
  /** Event time runs this many times faster than wall time. */
  speedup: number;
  seed: number;
  universe: number | undefined;
  /** Share of malformed messages. */
  poison: number;
  metricsPort: number;
  /** True when the user chose the port (a busy port is then an error, not a fallback). */
  metricsPortExplicit: boolean;
  model: string | undefined;
  nerModel: string | undefined;
  /** Share of Chinese documents (undefined: 0.2 with the multilingual model, else 0); src/tools/demo/chinese.ts. */
  zhShare?: number | undefined;
  /** Realistic traffic knobs (src/tools/scenarios/realism.ts); absent: off. */
  realism?: RealismOptions;
  /** The planted region's disparate impact ratio (absent: the generator's, 0.6). */
  biasRatio?: number;
  /** The multilingual model directory (default models/finsentry-multilingual). */
  zhModel?: string | undefined;
  device: 'cpu' | 'cuda' | undefined;
  config: string | undefined;
  brokers: string[] | undefined;
  redisUrl: string | undefined;
  view: boolean;
  keepRunning: boolean;
  keepPrevious: boolean;
  summaryJson: string | undefined;
  /** Exit 3 when the summary's result is FAIL. */
  check: boolean;
}

export interface Output {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}
