import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferStream, type InferRecord } from '../../../src/inference/infer-stream.js';
import { synthesizeModel } from '../../../src/tools/models/synth/index.js';

let root: string;
const CLI = ['node_modules/.bin/tsx', 'src/cli/main.ts'];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'finsentry-cli-'));
  synthesizeModel({
    task: 'sentiment',
    layers: 1,
    hidden: 32,
    heads: 2,
    vocabSize: 800,
    seed: 1,
    out: join(root, 'sent'),
  });
  synthesizeModel({
    task: 'ner',
    layers: 1,
    hidden: 32,
    heads: 2,
    vocabFrom: join(root, 'sent'),
    seed: 2,
    out: join(root, 'ner'),
  });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('inferStream', () => {
  it('keeps input order and bounds the documents in flight', async () => {
    const lines = Array.from({ length: 250 }, (_, i) => JSON.stringify({ id: `d${i}`, text: `text ${i}` }));
    let inFlight = 0;
    let maxInFlight = 0;
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (c: Buffer) => chunks.push(c.toString()));
    const summary = await inferStream(
      Readable.from(lines.map((l) => `${l}\n`)),
      out,
      async (requests) => {
        inFlight += requests.length;
        maxInFlight = Math.max(maxInFlight, inFlight);
        // later chunks finish first, to prove output order does not depend on completion order
        await new Promise((r) => setTimeout(r, 10 - (Number(requests[0]?.id.slice(1)) % 10)));
        inFlight -= requests.length;
        return requests.map((r): InferRecord => ({ id: r.id, models: [] }));
      },
      { chunkSize: 16, maxPendingChunks: 3 },
    );
    expect(summary).toEqual({ documents: 250, skippedLines: 0 });
    const ids = chunks
      .join('')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as InferRecord).id);
    expect(ids).toEqual(lines.map((_, i) => `d${i}`));
    expect(maxInFlight).toBeLessThanOrEqual(16 * 3);
  });
});

describe('finsentry infer / models CLI', () => {
  it('streams one result object per input line', () => {
    const input = join(root, 'in.jsonl');
    writeFileSync(
      input,
      [
        '{"id":"a","text":"Apple shares rose in New York"}',
        'plain text line',
        '',
        '{"id":"c","text":"' + 'bank profit fell '.repeat(80) + '"}',
      ].join('\n'),
    );
    const stdout = execFileSync(
      CLI[0]!,
      [
        CLI[1]!,
        'infer',
        '--task',
        'both',
        '--model',
        join(root, 'sent'),
        '--ner-model',
        join(root, 'ner'),
        '--input',
        input,
        '--max-length',
        '64',
        '--stride',
        '16',
      ],
      {
        encoding: 'utf8',
      },
    );
    const records = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as InferRecord);
    expect(records.map((r) => r.id)).toEqual(['a', '2', 'c']);
    expect(records.every((r) => r.sentiment && Array.isArray(r.entities) && r.models.length === 2)).toBe(
      true,
    );
    expect(records[2]?.sentiment?.windows).toBeGreaterThan(1);
  }, 120_000);

  it('models verify prints the signature and a smoke result; synth is reproducible', () => {
    const verify = JSON.parse(
      execFileSync(CLI[0]!, [CLI[1]!, 'models', 'verify', join(root, 'ner'), '--json'], { encoding: 'utf8' }),
    ) as Record<string, unknown>;
    expect(verify['task']).toBe('ner');
    expect((verify['inputs'] as Array<{ name: string }>).map((i) => i.name)).toEqual([
      'input_ids',
      'attention_mask',
      'token_type_ids',
    ]);
    expect(Array.isArray((verify['smoke'] as { result: unknown }).result)).toBe(true);
    const synth = (out: string) =>
      JSON.parse(
        execFileSync(
          CLI[0]!,
          [
            CLI[1]!,
            'models',
            'synth',
            '--task',
            'sentiment',
            '--layers',
            '1',
            '--hidden',
            '16',
            '--heads',
            '2',
            '--vocab-size',
            '400',
            '--seed',
            '5',
            '--out',
            out,
          ],
          { encoding: 'utf8' },
        ),
      ) as { sha256: string };
    expect(synth(join(root, 's1')).sha256).toBe(synth(join(root, 's2')).sha256);
  }, 180_000);
});
