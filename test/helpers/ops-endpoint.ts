/**
 * The ops server of a `finsentry run` child (health and /metrics): its port from the startup log line,
 * and a metric's samples from a Prometheus text exposition.
 */

/** The port the child's ops server listens on (its "ops server listening" log line), or null. */
export function opsPort(output: string): number | null {
  const line = output.split('\n').find((l) => l.includes('"ops server listening'));
  return line ? (JSON.parse(line) as { port: number }).port : null;
}

/** Sum and max of a metric's samples (every label set) in a Prometheus text exposition. */
export function metricSamples(text: string, name: string): { sum: number; max: number; series: number } {
  const values = text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`))
    .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
  return { sum: values.reduce((a, b) => a + b, 0), max: Math.max(0, ...values), series: values.length };
}
