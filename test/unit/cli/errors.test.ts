// The CLI error table of docs/cli.md#errors, row by row, on the real `finsentry` process: each failure
// exits non-zero with one line naming the option, file or URL (no stack trace below --log-level debug).
// The server-down rows (Redis, Kafka) are in test/integration/cli-connection-errors.test.ts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../src/cli/commands/index.js';
import { closedPort } from '../../helpers/closed-port.js';
import { repoRoot, startFinsentry } from '../../helpers/finsentry-cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'fs-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function finsentry(args: string[], env: NodeJS.ProcessEnv = {}) {
  const { code, output } = await startFinsentry(args, env).exited;
  return { code, output };
}

function expectOneLine(output: string, pattern: RegExp | string): void {
  const lines = output.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  if (typeof pattern === 'string') expect(lines[0]).toContain(pattern);
  else expect(lines[0]).toMatch(pattern);
  expect(output).not.toMatch(/\n\s+at /); // no stack frame
}

describe('finsentry options', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const { code, output } = await finsentry(['--version']);
    expect(code).toBe(0);
    expect(output.trim()).toBe(pkg.version);
  });

  it('every command that reads a config takes -c/--config', () => {
    const program = new Command();
    for (const register of COMMANDS) register(program);
    const leaves = (cmd: Command, prefix: string): Array<[string, Command]> =>
      cmd.commands.length === 0
        ? [[prefix, cmd]]
        : cmd.commands.flatMap((c) => leaves(c, `${prefix} ${c.name()}`.trim()));
    const commands = leaves(program, '').filter(([name]) => !/^(config check|models )/.test(name));
    expect(commands.map(([name]) => name)).toEqual(
      expect.arrayContaining(['run', 'infer', 'report', 'replay', 'bench', 'demo', 'stats', 'evaluate']),
    );
    for (const [name, cmd] of commands) {
      const option = cmd.options.find((o) => o.long === '--config');
      expect(option?.short, `${name} -c`).toBe('-c');
    }
  });
});

describe('finsentry errors (docs/cli.md#errors)', () => {
  it('stats -d with an unknown dimension names the configured ones', async () => {
    const { code, output } = await finsentry(['stats', '-d', 'nosuchdim']);
    expect(code).toBe(2);
    expectOneLine(
      output,
      '-d/--dimension: unknown dimension "nosuchdim"; configured (stats.dimensions): kind, source, platform, region, language, ticker, issuer',
    );
  });

  it('report -d with an unknown dimension names the configured ones', async () => {
    const { code, output } = await finsentry(['report', '-d', 'region', 'sector', '--no-alerts']);
    expect(code).toBe(2);
    expectOneLine(output, '-d/--dimension: unknown dimension "sector"');
  });

  it('infer --threads -1 is refused', async () => {
    const { code, output } = await finsentry(['infer', '--threads', '-1']);
    expect(code).not.toBe(0);
    expect(output).toContain(
      `option '--threads <n>' argument '-1' is invalid. expected an integer in 0..1024`,
    );
  });

  it('replay --universe outside 4..60 is refused', async () => {
    const { code, output } = await finsentry(['replay', '--scenario', 'mixed', '--universe', '2']);
    expect(code).not.toBe(0);
    expect(output).toContain('expected an integer in 4..60, got "2"');
  });

  it('infer --input naming a missing file names the path', async () => {
    const missing = path.join(dir, 'no-such-input.jsonl');
    const { code, output } = await finsentry(['infer', '--input', missing]);
    expect(code).toBe(2);
    expectOneLine(output, `finsentry: --input: cannot read ${missing} (no such file)`);
  });

  it('replay --file naming a missing file names the path', async () => {
    const missing = path.join(dir, 'no-such-traffic.jsonl');
    const { code, output } = await finsentry(['replay', '--file', missing]);
    expect(code).toBe(2);
    expectOneLine(output, `finsentry: --file: cannot read ${missing} (no such file)`);
  });

  it('a missing --config file names the path', async () => {
    const missing = path.join(dir, 'absent.yaml');
    const { code, output } = await finsentry(['stats', '-d', 'region', '-c', missing]);
    expect(code).toBe(1);
    expectOneLine(output, `cannot read config file ${missing}`);
  });

  it('models pull to an unreachable endpoint names the URL and the setting', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const out = path.join(dir, 'pulled');
    const { code, output } = await finsentry([
      'models',
      'pull',
      'owner/model',
      '--out',
      out,
      '--endpoint',
      endpoint,
    ]);
    expect(code).toBe(1);
    expectOneLine(
      output,
      `cannot reach ${endpoint}/owner/model/resolve/main/config.json (connect ECONNREFUSED 127.0.0.1:`,
    );
    expect(output).toContain('set --endpoint (HF_ENDPOINT)');
  });

  it('--log-level debug adds the stack trace and the cause', async () => {
    const missing = path.join(dir, 'absent-debug.yaml');
    const { code, output } = await finsentry([
      '--log-level',
      'debug',
      'stats',
      '-d',
      'region',
      '-c',
      missing,
    ]);
    expect(code).toBe(1);
    expect(output).toContain(`cannot read config file ${missing}`);
    expect(output).toMatch(/\n\s+at /);
  });

  it('config check refuses a rule with an unknown feature, naming the field', async () => {
    const file = path.join(dir, 'rule.yaml');
    writeFileSync(
      file,
      [
        'alerts:',
        '  rules:',
        '    - { name: X, kind: drift, metric: psi, feature: nope, comparison: ">", threshold: 0.2, window: 1h }',
      ].join('\n'),
    );
    const { code, output } = await finsentry(['config', 'check', file]);
    expect(code).toBe(1);
    expect(output).toContain('alerts.rules[0].feature: "nope" is not one of p_neg, polarity');
  });
});
