import type { BaselineReference } from './measure.js';

/**
 * The pinned baseline of drift rules (docs/alerting.md), re-read at most once per `refreshMs` so that
 * a newly captured one is picked up without a restart. `onChange` is told whenever the baseline
 * appears, disappears or changes capture — the evaluator turns that into a metric and a log line, so
 * a missing baseline is visible rather than silently replaced by the trailing window.
 */
export function cachedBaseline(
  read: () => Promise<(BaselineReference & { capturedAtMs?: number }) | null>,
  opts: { refreshMs?: number; now?: () => number; onChange?: (b: BaselineReference | null) => void } = {},
): () => Promise<BaselineReference | null> {
  const refreshMs = opts.refreshMs ?? 60_000;
  const now = opts.now ?? Date.now;
  let cached: { atMs: number; value: Promise<BaselineReference | null> } | undefined;
  let seen: string | undefined;
  return () => {
    if (!cached || now() - cached.atMs > refreshMs) {
      const value = read().then((b) => {
        const identity = b ? `${b.name}@${b.capturedAtMs ?? ''}` : '';
        if (identity !== seen) {
          seen = identity;
          opts.onChange?.(b);
        }
        return b;
      });
      value.catch(() => (cached = undefined));
      cached = { atMs: now(), value };
    }
    return cached.value;
  };
}
