import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (pino) on stderr, so that stdout stays free for command output
 * (`finsentry infer`, `stats --json`). Secrets are redacted by path as a second line of defence;
 * the first is that config never holds them (only env/file references).
 */
export function createLogger(
  level: string = process.env.FINSENTRY_LOG_LEVEL ?? 'info',
  name = 'finsentry',
): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: ['*.password', '*.sasl.password', 'password', '*.authorKey'], censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination(2),
  );
}
