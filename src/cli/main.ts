#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { COMMANDS } from './commands/index.js';
import { formatCliError, LOG_LEVELS } from './errors.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const program = new Command();
program
  .name('finsentry')
  .description('Real-time sentiment, fairness and drift monitoring for financial text on Kafka')
  .version(packageVersion(), '-V, --version', 'print the finsentry version')
  .addOption(
    new Option(
      '--log-level <level>',
      'log level of every command (sets log.level); debug adds stack traces to errors',
    ).choices(LOG_LEVELS),
  )
  .showHelpAfterError('(finsentry <command> --help for usage)')
  .hook('preAction', () => {
    // The config's env override (load.ts), so that every command's loadConfig sees the same level.
    const level = program.opts<{ logLevel?: string }>().logLevel;
    if (level) process.env.FINSENTRY_LOG__LEVEL = level;
  });
for (const register of COMMANDS) register(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const env = process.env;
  const level =
    program.opts<{ logLevel?: string }>().logLevel ?? env.FINSENTRY_LOG__LEVEL ?? env.FINSENTRY_LOG_LEVEL;
  process.stderr.write(formatCliError(err, level === 'debug' || level === 'trace'));
  process.exit(
    typeof (err as { exitCode?: unknown }).exitCode === 'number' ? (err as { exitCode: number }).exitCode : 1,
  );
});
