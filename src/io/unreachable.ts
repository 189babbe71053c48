/**
 * A server finsentry could not reach, named with the setting that points at it, so that the one line
 * a user sees says what to start or what to change (docs/cli.md#errors). The cause (with its stack)
 * stays attached for `--log-level debug`.
 */
export class ServerUnreachableError extends Error {
  constructor(
    readonly server: string,
    readonly target: string,
    readonly setting: string,
    cause: unknown,
  ) {
    super(`cannot reach ${server} at ${target} (${causeMessage(cause)}); start it or set ${setting}`, {
      cause,
    });
    this.name = 'ServerUnreachableError';
  }
}

/** The innermost useful message of an error chain (AggregateError: its first inner error). */
export function causeMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return causeMessage(err.errors[0]);
  if (err instanceof Error) {
    // undici's fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND …) is its cause.
    if (err instanceof TypeError && err.cause !== undefined) return causeMessage(err.cause);
    if (err.message) return err.message;
    if (err.cause !== undefined) return causeMessage(err.cause);
    return (err as NodeJS.ErrnoException).code ?? err.name;
  }
  return String(err);
}
