/** A problem the user can act on: printed as is, exit 1. */
export class DemoError extends Error {
  override name = 'DemoError';
}

/** Thrown at the next check after Ctrl-C (or SIGTERM/SIGHUP): the run stops in order, exit 130. */
export class Interrupted extends Error {
  override name = 'Interrupted';
}
