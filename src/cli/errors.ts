/**
 * How a failed command reports: one line `finsentry: <message>` (the message names the server,
 * file or option and the setting to change), the cause chain and stack traces only at
 * `--log-level debug` (docs/cli.md#errors).
 */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function formatCliError(err: unknown, debug: boolean): string {
  const message = err instanceof Error ? err.message : String(err);
  if (!debug) return `finsentry: ${message}\n`;
  const lines = [`finsentry: ${message}`];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    if (current instanceof Error) lines.push(current.stack ?? `${current.name}: ${current.message}`);
    else lines.push(String(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) lines.push('caused by:');
  }
  return `${lines.join('\n')}\n`;
}
