// `finsentry config check` (and `finsentry run`) on broken configs: the process exits non-zero and
// the message names the bad field and the expected form.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const dir = mkdtempSync(path.join(tmpdir(), 'fs-config-'));

function finsentry(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args],
    {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      timeout: 60_000,
    },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function configFile(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('finsentry config check', () => {
  it('accepts a valid config', () => {
    const file = configFile(
      'ok.yaml',
      'kafka:\n  brokers: ["10.0.0.1:9092"]\nbatching:\n  maxBatchSize: 32\n',
    );
    const result = finsentry(['config', 'check', file]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(`${file}: OK`);
    expect(result.status).toBe(0);
  });

  it('rejects every broken field, naming each one and the expected form', () => {
    const file = configFile(
      'broken.yaml',
      [
        'kafka:',
        '  brokers: ["localhost"]',
        '  topics: { news: "" }',
        'batching:',
        '  maxBatchSize: 0',
        '  maxWait: soon',
        'codec:',
        '  schemaIds: { abc: io.finsentry.NewsArticle }',
        'limits:',
        '  maxTextChars: -1',
        'redis:',
        '  urll: redis://x:6379',
      ].join('\n'),
    );
    const result = finsentry(['config', 'check', file]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('kafka.brokers[0]: expected host:port');
    expect(result.stderr).toContain('kafka.topics.news');
    expect(result.stderr).toContain('batching.maxBatchSize');
    expect(result.stderr).toContain('batching.maxWait: expected a duration like 250ms');
    expect(result.stderr).toContain('codec.schemaIds.abc');
    expect(result.stderr).toContain('limits.maxTextChars');
    expect(result.stderr).toMatch(/redis: .*urll/);
  });

  it('rejects a file that is not YAML', () => {
    const result = finsentry(['config', 'check', configFile('bad.yaml', 'kafka: [unclosed\n')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('is not valid YAML/JSON');
  });

  it('refuses a future skew larger than the allowed lateness, naming both fields', () => {
    const skewed = finsentry([
      'config',
      'check',
      configFile('skew.yaml', 'limits:\n  maxFutureSkew: 1h\nstats:\n  allowedLateness: 5m\n'),
    ]);
    expect(skewed.status).toBe(1);
    expect(skewed.stderr).toContain(
      'limits.maxFutureSkew: limits.maxFutureSkew (1h) must not exceed stats.allowedLateness (5m)',
    );
    // Raising the lateness with it is accepted, and so are the defaults (skew 5m = lateness 5m).
    const equal = finsentry([
      'config',
      'check',
      configFile('skew-ok.yaml', 'limits:\n  maxFutureSkew: 1h\nstats:\n  allowedLateness: 1h\n'),
    ]);
    expect(equal.stderr).toBe('');
    expect(equal.status).toBe(0);
  });

  it('names an env override that breaks the config', () => {
    const file = configFile('env.yaml', '{}\n');
    const result = finsentry(['config', 'check', file], { FINSENTRY_BATCHING__MAX_IN_FLIGHT_BATCHES: '0' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('batching.maxInFlightBatches');
  });
});

describe('finsentry run with a broken config', () => {
  it('exits 2 with a log line naming the field, before connecting to anything', () => {
    const file = configFile('run-broken.yaml', 'shutdown:\n  deadline: forever\n');
    const result = finsentry(['run', '--config', file]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('shutdown.deadline: expected a duration');
  });

  it('exits 1 naming the missing author key secret', () => {
    const file = configFile(
      'run-nokey.yaml',
      'privacy:\n  authorKey: { env: FS_TEST_UNSET_KEY }\nmetrics: { port: 0 }\n',
    );
    const result = finsentry(['run', '--config', file]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('privacy.authorKey: environment variable FS_TEST_UNSET_KEY is not set');
  });
});
