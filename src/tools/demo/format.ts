/** Small number/time formatters shared by the live view and the summary (pure, locale-independent). */

export function int(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  const s = String(Math.round(Math.abs(n)));
  const grouped = s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return n < 0 && Math.round(Math.abs(n)) !== 0 ? `-${grouped}` : grouped;
}

export function fixed(n: number | null | undefined, digits: number): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  return n.toFixed(digits);
}

export function percent(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return '-';
  return `${Math.round(share * 100)}%`;
}

/** h:mm:ss for an hour or more, else m:ss (wall-clock elapsed times). */
export function clock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * Event time as an offset from the scenario start, T+h:mm (windows have 1-minute buckets, so minutes
 * are the resolution that means something): the summary says "surge from T+0:54", and so does the view.
 */
export function eventOffset(eventMs: number | null | undefined, startMs: number): string {
  if (eventMs === null || eventMs === undefined || !Number.isFinite(eventMs)) return 'T+-';
  const minutes = Math.floor((eventMs - startMs) / 60_000);
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `T${sign}${Math.floor(abs / 60)}:${String(abs % 60).padStart(2, '0')}`;
}

/** A duration in words for delays: 45s, 7m, 7m30s, 2h, 1h05m. */
export function span(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const negative = ms < 0;
  const total = Math.round(Math.abs(ms) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  let text: string;
  if (h > 0) text = m > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${h}h`;
  else if (m > 0) text = s > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${m}m`;
  else text = `${s}s`;
  return negative ? `-${text}` : text;
}

/** Cuts a line to `width` characters (with an ellipsis), so a redraw never wraps. */
export function fit(line: string, width: number): string {
  if (width <= 0 || line.length <= width) return line;
  return width <= 1 ? line.slice(0, width) : `${line.slice(0, width - 1)}…`;
}

/** Two blocks of lines side by side; the left one padded to `leftWidth`. */
export function sideBySide(left: readonly string[], right: readonly string[], leftWidth: number): string[] {
  const rows = Math.max(left.length, right.length);
  const out: string[] = [];
  for (let i = 0; i < rows; i++) {
    const l = fit(left[i] ?? '', leftWidth).padEnd(leftWidth);
    const r = right[i] ?? '';
    out.push(r ? `${l}  ${r}` : l.trimEnd());
  }
  return out;
}
