import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisWindowStore } from '../../src/io/redis/window-store.js';
import { syntheticObservations } from '../../src/tools/bench/stats-store.js';
import type { StatsReport } from '../../src/stats/dimension-report.js';
import { redisUrl, uniqueName } from '../helpers/stack.js';

/** `finsentry stats` and `finsentry baseline` as a user runs them, against the real Redis. */
const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const DIMENSIONS = ['kind', 'source', 'region', 'language', 'sector', 'ticker', 'issuer'];

async function finsentry(
  args: string[],
  env: Record<string, string>,
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(
      join(ROOT, 'node_modules/.bin/tsx'),
      [join(ROOT, 'src/cli/main.ts'), ...args],
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
        timeout: 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

describe('finsentry stats / baseline CLI', () => {
  const prefix = uniqueName('fs-t-cli');
  const dir = mkdtempSync(join(tmpdir(), 'fs-cli-'));
  const configFile = join(dir, 'finsentry.yaml');
  let redis: Redis;
  let store: RedisWindowStore;

  beforeAll(async () => {
    redis = new Redis(redisUrl());
    store = new RedisWindowStore(redis, {
      keyPrefix: prefix,
      bucketMs: 60_000,
      allowedLatenessMs: 300_000,
      ttlSeconds: 3600,
      dimensions: DIMENSIONS,
    });
    // 2 partitions × 3000 documents at 100/min; from minute 40 every emea document is negative.
    for (let p = 0; p < 2; p++) {
      const obs = syntheticObservations(3000, p, { docsPerEventMinute: 100, seed: 3 });
      for (const o of obs.slice(2000)) {
        if (o.groups.some((g) => g.dimension === 'region' && g.value === 'emea'))
          Object.assign(o, { label: 'negative', pNeg: 0.95, pPos: 0.01, polarity: -0.94 });
      }
      for (let i = 0; i < obs.length; i += 100) {
        const chunk = obs.slice(i, i + 100);
        await store.apply([
          {
            partitionKey: `news.raw:${p}`,
            lastOffset: chunk[chunk.length - 1]!.offset!,
            observations: chunk,
            labels: [],
          },
        ]);
      }
    }
    const dims = DIMENSIONS.map(
      (name) =>
        `    - { name: ${name}, from: ${name === 'ticker' ? 'tickers' : name === 'issuer' ? 'entities.ORG' : name} }`,
    );
    writeFileSync(
      configFile,
      [
        `redis: { url: "${redisUrl()}", keyPrefix: "${prefix}" }`,
        'stats:',
        '  dimensions:',
        ...dims,
        'evaluator: { reference: { kind: trailing, window: 20m } }',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await store.deleteAll();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the window as JSON with the same counts the store reads, and flags the biased region', async () => {
    const { stdout, code, stderr } = await finsentry(
      ['stats', '--dimension', 'region', '--window', '10m', '--json', '--config', configFile],
      {},
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as StatsReport;
    const window = await store.readWindow({ dimension: 'region', windowMs: 600_000 });
    expect(report.fairness.groups.map((g) => [g.group, g.n])).toEqual(window.map((g) => [g.group, g.count]));
    expect(report.totalDocuments).toBe(window.reduce((s, g) => s + g.count, 0)); // region is single-valued
    expect(report.fairness.worstGroup?.group).toBe('emea');
    expect(report.fairness.disparateImpactRatio.value!).toBeLessThan(0.8);
    expect(report.drift?.reference.kind).toBe('trailing');
    expect(report.drift!.features.find((f) => f.feature === 'p_neg')!.psi!).toBeGreaterThan(0);
  });

  it('prints a readable table', async () => {
    const { stdout, code } = await finsentry(['stats', '-d', 'region', '-w', '30m', '-c', configFile], {});
    expect(code).toBe(0);
    expect(stdout).toMatch(/^group\s+n\s+rate\s+95% Wilson\s+vs rest\s+z\s+p\s+judged$/m);
    expect(stdout).toMatch(/^emea\s+\d+\s+/m);
    expect(stdout).toContain('disparate impact ratio');
    expect(stdout).toMatch(/^p_neg\s+\d+\s+\d+/m);
    expect(stdout).toMatch(/Page-Hinkley on negative rate: change in emea at 2026-01-01T00:2\d/);
  });

  it('captures, lists and shows a baseline, and uses it as the drift reference', async () => {
    const captured = await finsentry(
      ['baseline', 'capture', '--window', '30m', '--name', 'ref1', '--json', '--config', configFile],
      {},
    );
    expect(captured.stderr).toBe('');
    expect(captured.code).toBe(0);
    const snapshot = JSON.parse(captured.stdout) as {
      windowMs: number;
      dimensions: Record<string, Array<{ count: number }>>;
    };
    expect(snapshot.windowMs).toBe(1_800_000);
    expect(snapshot.dimensions._all![0]!.count).toBe(
      (await store.readWindow({ dimension: '_all', windowMs: 1_800_000 }))[0]!.count,
    );
    const list = await finsentry(['baseline', 'list', '-c', configFile], {});
    expect(list.stdout.trim()).toBe('ref1');
    const shown = await finsentry(['baseline', 'show', '-n', 'ref1', '-c', configFile], {});
    expect(shown.stdout).toMatch(/baseline "ref1": window 30m/);
    const missing = await finsentry(['baseline', 'show', '-n', 'nope', '-c', configFile], {});
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no baseline "nope" (have: ref1)');
    const vsBaseline = await finsentry(
      ['stats', '-d', 'kind', '-w', '30m', '--baseline', 'ref1', '--json', '-c', configFile],
      {},
    );
    const report = JSON.parse(vsBaseline.stdout) as StatsReport;
    expect(report.drift?.reference).toMatchObject({ kind: 'baseline', name: 'ref1' });
    // The current 30m window is the captured one: no drift at all.
    for (const f of report.drift!.features) expect(f.psi ?? 0).toBeCloseTo(0, 12);
  });
});
