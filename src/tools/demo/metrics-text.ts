/**
 * A reader of the Prometheus text exposition format (version 0.0.4, what prom-client serves on
 * /metrics), for the demo's live view. Only what the view needs: samples with labels and values;
 * HELP/TYPE comments and timestamps are skipped. prom-client has a registry but no parser, and the
 * demo reads the service's figures over HTTP exactly as Prometheus does, so they are the same numbers
 * the dashboards show.
 */

export interface MetricSample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

function parseValue(text: string): number {
  switch (text) {
    case '+Inf':
    case 'Inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
      return Number.NEGATIVE_INFINITY;
    case 'NaN':
      return Number.NaN;
    default:
      return Number(text);
  }
}

/** Parses `{a="x",b="y\"z"}` starting at `text[start] === '{'`; returns the labels and the index after `}`. */
function parseLabels(text: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const eq = text.indexOf('=', i);
    if (eq < 0 || text[eq + 1] !== '"') throw new Error(`malformed labels: ${text}`);
    const name = text.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < text.length; j++) {
      const c = text[j];
      if (c === '\\') {
        const next = text[j + 1];
        value += next === 'n' ? '\n' : (next ?? '');
        j++;
      } else if (c === '"') break;
      else value += c;
    }
    if (j >= text.length) throw new Error(`unterminated label value: ${text}`);
    labels[name] = value;
    i = j + 1;
  }
}

/** Every sample of an exposition; a malformed line is skipped rather than failing the whole scrape. */
export function parsePrometheusText(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      const brace = line.indexOf('{');
      const space = line.indexOf(' ');
      let name: string;
      let labels: Record<string, string> = {};
      let rest: string;
      if (brace >= 0 && (space < 0 || brace < space)) {
        name = line.slice(0, brace);
        const parsed = parseLabels(line, brace);
        labels = parsed.labels;
        rest = line.slice(parsed.end).trim();
      } else {
        if (space < 0) continue;
        name = line.slice(0, space);
        rest = line.slice(space + 1).trim();
      }
      const valueText = rest.split(/\s+/)[0];
      if (!valueText) continue;
      out.push({ name, labels, value: parseValue(valueText) });
    } catch {
      continue;
    }
  }
  return out;
}

/** Samples of one scrape, indexed by metric name, with the lookups the view needs. */
export class MetricSet {
  private readonly byName = new Map<string, MetricSample[]>();

  constructor(samples: readonly MetricSample[]) {
    for (const s of samples) {
      let list = this.byName.get(s.name);
      if (!list) this.byName.set(s.name, (list = []));
      list.push(s);
    }
  }

  static parse(text: string): MetricSet {
    return new MetricSet(parsePrometheusText(text));
  }

  /** Samples of `name` whose labels include every pair of `match`. */
  select(name: string, match: Readonly<Record<string, string>> = {}): MetricSample[] {
    const entries = Object.entries(match);
    return (this.byName.get(name) ?? []).filter((s) => entries.every(([k, v]) => s.labels[k] === v));
  }

  /** Sum over the matching samples; null when there is none (the series does not exist yet). */
  sum(name: string, match: Readonly<Record<string, string>> = {}): number | null {
    const selected = this.select(name, match);
    if (selected.length === 0) return null;
    return selected.reduce((a, s) => a + s.value, 0);
  }

  /** Sum per value of one label, e.g. DLQ messages per reason. */
  sumBy(name: string, label: string, match: Readonly<Record<string, string>> = {}): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.select(name, match)) {
      const key = s.labels[label] ?? '';
      out.set(key, (out.get(key) ?? 0) + s.value);
    }
    return out;
  }
}
