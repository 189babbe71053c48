import type { Command } from 'commander';
import { registerConfigCommand } from './config.js';
import { registerReplayCommand } from './replay.js';
import { registerReportCommand } from './report.js';
import { registerInferCommand } from './infer.js';
import { registerModelsCommand } from './models.js';
import { registerStatsCommand } from './stats.js';
import { registerBaselineCommand } from './baseline.js';
import { registerEvaluateCommand } from './evaluate.js';
import { registerRunCommand } from './run.js';
import { registerBenchCommand } from './bench.js';
import { registerDemoCommand } from './demo.js';
import { registerBacktestCommand } from './backtest.js';

/** Each command lives in its own module and registers itself on the program. */
export const COMMANDS: Array<(program: Command) => void> = [
  registerConfigCommand,
  registerReplayCommand,
  registerReportCommand,
  registerStatsCommand,
  registerBaselineCommand,
  registerInferCommand,
  registerModelsCommand,
  registerEvaluateCommand,
  registerRunCommand,
  registerBenchCommand,
  registerDemoCommand,
  registerBacktestCommand,
];
