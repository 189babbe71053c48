import { spawnSync } from 'node:child_process';

/**
 * promtool comes from Debian's `prometheus` package, which the test command and the stack script
 * install. Tests that need it fail (never skip) with this message when it is missing.
 */
export function requirePromtool(): string {
  const bin = process.env.PROMTOOL ?? 'promtool';
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `promtool not found (${bin}): install Debian's prometheus package (apt-get install -y prometheus), ` +
        'run scripts/stack/stack.sh, or set PROMTOOL=/path/to/promtool',
    );
  }
  return bin;
}
