import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ZH_SHARE, resolveChinesePhase } from '../../../../src/tools/demo/chinese.js';
import { buildDemoConfig } from '../../../../src/tools/demo/config.js';
import type { DemoOptions } from '../../../../src/tools/demo/options.js';
import { findMultilingualModels } from '../../../../src/tools/scenarios/multilingual.js';

const root = mkdtempSync(path.join(tmpdir(), 'fs-demo-zh-'));
const options = (o: Partial<DemoOptions> = {}) =>
  ({ model: undefined, nerModel: undefined, ...o }) as DemoOptions;

function modelDir(layout: 'flat' | 'split'): string {
  const dir = mkdtempSync(path.join(root, 'model-'));
  for (const sub of layout === 'flat' ? [''] : ['sentiment', 'ner']) {
    mkdirSync(path.join(dir, sub), { recursive: true });
    writeFileSync(path.join(dir, sub, 'tokenizer.json'), '{}');
  }
  return dir;
}

describe('the demo Chinese phase', () => {
  it('is skipped, with a message, when the multilingual model is absent', () => {
    const phase = resolveChinesePhase(options(), root);
    expect(phase).toMatchObject({ share: 0, models: null });
    expect(phase.note).toContain(
      'Chinese phase skipped: no multilingual model in models/finsentry-multilingual',
    );
  });

  it('plants Chinese traffic and routes zh to the model when it is there', () => {
    const dir = modelDir('flat');
    // off by default, even with the model there; --zh-share turns it on
    expect(resolveChinesePhase(options({ zhModel: dir }), root).share).toBe(0);
    const phase = resolveChinesePhase(options({ zhModel: dir, zhShare: DEFAULT_ZH_SHARE }), root);
    expect(phase.share).toBe(DEFAULT_ZH_SHARE);
    expect(phase.models).toEqual({ sentiment: dir, ner: dir, languages: ['en', 'zh'] });
    // The languages the model declares (training/export_joint.py writes finsentry_languages).
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ finsentry_languages: ['zh', 'en', 'ja'] }));
    expect(findMultilingualModels(dir)!.languages).toEqual(['en', 'ja', 'zh']);
    const split = modelDir('split');
    expect(findMultilingualModels(split)).toEqual({
      sentiment: path.join(split, 'sentiment'),
      ner: path.join(split, 'ner'),
      languages: ['en', 'zh'],
    });
    // English stays with the pair; the multilingual model scores zh as a model set of its own.
    const config = buildDemoConfig({
      runId: 'r1',
      base: {},
      sentimentModel: 'models/finsentry-sentiment',
      nerModel: 'models/finsentry-ner',
      zhModelDir: phase.models!.sentiment,
      metricsPort: 0,
    }).config;
    expect(config.models.languages).toEqual(['en']);
    expect(config.models.sets.map((set) => [set.path, set.languages])).toEqual([[dir, ['zh']]]);
    // Explicit models win: the multilingual one is not swapped in.
    expect(resolveChinesePhase(options({ zhModel: dir, model: 'x' }), root).models).toBeNull();
  });

  it('plants it unscored on request without the model, and is off at --zh-share 0', () => {
    const unscored = resolveChinesePhase(options({ zhShare: 0.3 }), root);
    expect(unscored).toMatchObject({ share: 0.3, models: null });
    expect(unscored.note).toContain('enriched unscored');
    expect(resolveChinesePhase(options({ zhShare: 0, zhModel: modelDir('flat') }), root).share).toBe(0);
    expect(
      buildDemoConfig({ runId: 'r2', base: {}, sentimentModel: 's', nerModel: 'n', metricsPort: 0 }).config
        .models.languages,
    ).toEqual(['en']);
  });
});
