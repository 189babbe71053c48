#!/usr/bin/env node
import { Command } from 'commander';
import { COMMANDS } from './commands/index.js';

const program = new Command();
program
  .name('finsentry')
  .description('Real-time sentiment, fairness and drift monitoring for financial text on Kafka')
  .showHelpAfterError();
for (const register of COMMANDS) register(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`finsentry: ${message}\n`);
  process.exit(
    typeof (err as { exitCode?: unknown }).exitCode === 'number' ? (err as { exitCode: number }).exitCode : 1,
  );
});
