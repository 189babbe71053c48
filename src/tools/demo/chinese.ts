import path from 'node:path';
import {
  findMultilingualModels,
  MULTILINGUAL_MODEL_DIR,
  type MultilingualModels,
} from '../scenarios/multilingual.js';
import type { DemoOptions } from './options.js';

/**
 * The demo's Chinese phase (金融舆情监测, issue 15): a share of the replayed documents are Chinese news
 * and 股吧/雪球 chat, with a negative surge on 贵州茅台 (600519.SH) beside the English one; they come on
 * top of the English traffic (the replay rate rises by 1 / (1 − share)). It runs
 * when the multilingual model is there (models/finsentry-multilingual, or --zh-model): the service
 * then routes `zh` to it (models.languages [en, zh]) and the summary reports the Chinese surge as
 * detected or missed. Without the model the phase is skipped with a message; `--zh-share S` plants
 * the Chinese traffic anyway, and the summary then shows the surge as unscored (no alert expected).
 */
export const DEFAULT_ZH_SHARE = 0.2;

export interface ChinesePhase {
  /** Share of the documents that are Chinese (0: no Chinese phase). */
  share: number;
  /** The multilingual model the service uses, or null (Chinese documents are then unscored). */
  models: MultilingualModels | null;
  /** What the demo says about the phase at start. */
  note: string;
}

export function resolveChinesePhase(o: DemoOptions, root: string): ChinesePhase {
  const dir = o.zhModel ? path.resolve(o.zhModel) : path.join(root, MULTILINGUAL_MODEL_DIR);
  // Explicit --model/--ner-model choose the models: the multilingual one is then not swapped in.
  const found = o.model || o.nerModel ? null : findMultilingualModels(dir);
  // Opt-in (--zh-share): with the Chinese documents scored, the region dimension gains cn/hk groups and
  // the demo's apac disparity was detected after its allowance in a clean-clone CI run (issue #15 note).
  const share = o.zhShare ?? 0;
  if (share === 0)
    return {
      share,
      models: null,
      note: found
        ? `Chinese phase off (--zh-share ${DEFAULT_ZH_SHARE} turns it on: a surge on 贵州茅台 scored by the multilingual model)`
        : `Chinese phase skipped: no multilingual model in ${path.relative(root, dir) || dir} (--zh-share ${DEFAULT_ZH_SHARE} plants the Chinese surge anyway, unscored)`,
    };
  return {
    share,
    models: found,
    note: found
      ? `Chinese phase: ${share} of the documents are Chinese news and 股吧/雪球 chat, with a negative surge on 贵州茅台 (600519.SH); scored by the multilingual set from ${path.relative(root, dir) || dir}`
      : `Chinese phase: ${share} of the documents are Chinese, with a surge on 贵州茅台 (600519.SH), but no model reads Chinese: they are enriched unscored and no alert is expected on them`,
  };
}
