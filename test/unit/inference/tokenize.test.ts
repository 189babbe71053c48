import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codePointToUtf16Map, DocumentTokenizer, windowStarts } from '../../../src/inference/tokenize.js';

const FIXTURES = 'test/fixtures/inference';
const TOKENIZER = join(FIXTURES, 'tokenizer.json');
const PARITY = join(FIXTURES, 'tokenizer-parity.json');
const PYTHON = '.venv-py/bin/python';

interface ParityCase {
  text: string;
  ids: number[];
  offsets: Array<[number, number]>;
  special_tokens_mask: number[];
  word_ids: Array<number | null>;
}
interface ParityFixture {
  tokenizers_version: string;
  cases: ParityCase[];
}

const fixture = JSON.parse(readFileSync(PARITY, 'utf8')) as ParityFixture;

function pythonHasTokenizers(): boolean {
  if (!existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ['-c', 'import tokenizers'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('tokenizer parity with Python tokenizers', () => {
  it('has at least 200 varied reference texts', () => {
    expect(fixture.cases.length).toBeGreaterThanOrEqual(200);
    expect(fixture.cases.some((c) => /\p{Extended_Pictographic}/u.test(c.text))).toBe(true);
    expect(fixture.cases.some((c) => c.ids.length > 2000)).toBe(true);
  });

  it('gives the same ids, offsets, special-token masks and word ids as the Python reference', async () => {
    const tok = DocumentTokenizer.fromFile(TOKENIZER, { maxLength: 128, stride: 32, maxWindows: 64 });
    const encodings = await tok.encodeRaw(fixture.cases.map((c) => c.text));
    fixture.cases.forEach((c, i) => {
      const enc = encodings[i];
      if (!enc) throw new Error(`no encoding for case ${i}`);
      const label = `case ${i}: ${JSON.stringify(c.text.slice(0, 40))}`;
      expect(enc.getIds(), label).toEqual(c.ids);
      expect(enc.getOffsets(), label).toEqual(c.offsets);
      expect(enc.getSpecialTokensMask(), label).toEqual(c.special_tokens_mask);
      expect(
        enc.getWordIds().map((w) => w ?? null),
        label,
      ).toEqual(c.word_ids);
    });
  });

  it('converts code-point offsets to UTF-16 string indices (emoji, astral characters)', async () => {
    const tok = DocumentTokenizer.fromFile(TOKENIZER, { maxLength: 4096, stride: 32, maxWindows: 1 });
    const docs = await tok.encode(fixture.cases.map((c) => c.text));
    let astral = 0;
    fixture.cases.forEach((c, i) => {
      const codePoints = [...c.text];
      const window = docs[i]?.windows[0];
      if (!window) throw new Error('no window');
      if (codePointToUtf16Map(c.text)) astral++;
      c.offsets.forEach(([s, e], t) => {
        const [us, ue] = window.offsets[t] ?? [0, 0];
        expect(c.text.slice(us, ue)).toBe(codePoints.slice(s, e).join(''));
      });
    });
    expect(astral).toBeGreaterThan(3);
  });

  it.runIf(pythonHasTokenizers())(
    'the checked-in fixture is what tools/python/tokenizer_reference.py produces now',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'tok-parity-'));
      try {
        const out = join(dir, 'parity.json');
        execFileSync(PYTHON, ['tools/python/tokenizer_reference.py', TOKENIZER, out]);
        expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(fixture);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('long-text windows', () => {
  it('windowStarts covers the whole sequence with the given overlap', () => {
    expect(windowStarts(10, 126, 32)).toEqual([0]);
    expect(windowStarts(126, 126, 32)).toEqual([0]);
    expect(windowStarts(127, 126, 32)).toEqual([0, 94]);
    expect(windowStarts(300, 100, 20)).toEqual([0, 80, 160, 240]);
    expect(() => windowStarts(300, 10, 10)).toThrow(/stride/);
  });

  it('splits a 2,000+ token text into overlapping windows that cover every token', async () => {
    const longCase = fixture.cases.find((c) => c.ids.length > 2000);
    if (!longCase) throw new Error('fixture lacks a long text');
    const maxLength = 128;
    const stride = 32;
    const tok = DocumentTokenizer.fromFile(TOKENIZER, { maxLength, stride, maxWindows: 1000 });
    const [doc] = await tok.encode([longCase.text]);
    if (!doc) throw new Error('no doc');
    const content = longCase.ids.slice(1, -1);
    expect(doc.tokens).toBe(content.length);
    expect(doc.truncated).toBe(false);
    const covered = new Set<number>();
    doc.windows.forEach((w, k) => {
      expect(w.ids.length).toBeLessThanOrEqual(maxLength);
      expect(w.ids[0]).toBe(longCase.ids[0]);
      expect(w.ids[w.ids.length - 1]).toBe(longCase.ids[longCase.ids.length - 1]);
      expect(w.ids.slice(1, -1)).toEqual(content.slice(w.contentStart, w.contentStart + w.realTokens));
      if (k > 0) {
        const prev = doc.windows[k - 1];
        expect(prev && prev.contentStart + prev.realTokens - w.contentStart).toBe(stride);
      }
      for (let t = 0; t < w.realTokens; t++) covered.add(w.contentStart + t);
    });
    expect(covered.size).toBe(content.length);
    expect(doc.windows.length).toBe(Math.ceil((content.length - stride) / (maxLength - 2 - stride)));

    const limited = DocumentTokenizer.fromFile(TOKENIZER, { maxLength, stride, maxWindows: 3 });
    const [cut] = await limited.encode([longCase.text]);
    expect(cut?.windows.length).toBe(3);
    expect(cut?.truncated).toBe(true);
    expect(cut?.tokens).toBe(content.length);
  });

  it('counts unknown tokens and handles empty text', async () => {
    const tok = DocumentTokenizer.fromFile(TOKENIZER, { maxLength: 16, stride: 4, maxWindows: 8 });
    const [empty, emoji] = await tok.encode(['', 'a 😀 b 🚀']);
    expect(empty).toMatchObject({ tokens: 0, unknownTokens: 0, truncated: false });
    expect(empty?.windows).toHaveLength(1);
    expect(emoji?.unknownTokens).toBe(2);
    expect(emoji?.tokens).toBe(4);
  });
});
