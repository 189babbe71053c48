// docs/cli.md#errors, server-down rows: a command whose Redis or Kafka does not answer (a closed port)
// exits 1 within seconds with one line naming the server, its address and the setting to change — no
// ioredis "Unhandled error event" stack traces, no kafkajs JSON log lines.
import { describe, expect, it } from 'vitest';
import { closedPort } from '../helpers/closed-port.js';
import { startFinsentry } from '../helpers/finsentry-cli.js';

function expectSingleErrorLine(output: string, expected: string): void {
  const lines = output.split('\n').filter((l) => l.startsWith('finsentry:') || l.startsWith('{'));
  expect(lines).toEqual([expect.stringContaining(expected)]);
  expect(output).not.toContain('Unhandled error event');
  expect(output).not.toMatch(/\n\s+at /);
}

describe('finsentry commands with a server down', () => {
  it.each([
    ['stats', ['stats', '-d', 'region']],
    ['baseline list', ['baseline', 'list']],
    ['report', ['report', '--no-alerts', '-o', '/dev/null']],
  ])('%s: Redis down names the URL and redis.url', async (_name, args) => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const { code, output } = await startFinsentry(args, { FINSENTRY_REDIS__URL: url }).exited;
    expect(code).toBe(1);
    expectSingleErrorLine(
      output,
      `finsentry: cannot reach Redis at ${url} (connect ECONNREFUSED 127.0.0.1:${url.split(':')[2]}); start it or set redis.url (FINSENTRY_REDIS__URL)`,
    );
  });

  it('replay: Kafka down names the brokers and kafka.brokers, without kafkajs log lines', async () => {
    const broker = `127.0.0.1:${await closedPort()}`;
    const { code, output } = await startFinsentry(
      ['replay', '--scenario', 'mixed', '--duration', '1m', '--quiet', '--brokers', broker],
      {},
    ).exited;
    expect(code).toBe(1);
    expectSingleErrorLine(
      output,
      `finsentry: cannot reach Kafka at ${broker} (Connection error: connect ECONNREFUSED ${broker}); start it or set kafka.brokers`,
    );
    expect(output).not.toContain('partitioner');
  });

  it('report: Kafka down is one warning naming the brokers, and the report is still written', async () => {
    const broker = `127.0.0.1:${await closedPort()}`;
    const { code, output } = await startFinsentry(['report', '-o', '/dev/null'], {
      FINSENTRY_KAFKA__BROKERS: broker,
      FINSENTRY_REDIS__KEY_PREFIX: `fs-cli-${process.pid}`,
    }).exited;
    expect(code).toBe(0);
    const warnings = output.split('\n').filter((l) => l.includes('cannot reach'));
    expect(warnings).toEqual([
      `report: alert history not read: cannot reach Kafka at ${broker} (Connection error: connect ECONNREFUSED ${broker}); start it or set kafka.brokers (FINSENTRY_KAFKA__BROKERS, or --brokers), or pass --no-alerts`,
    ]);
    expect(output).not.toMatch(/^\{/m);
  });
});
