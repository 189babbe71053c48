import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Where the scenarios and the demo find the multilingual (Chinese + English) model of issue 15, and
 * how they configure the service to route `zh` (and `en`) documents to it. The one place to change if
 * the model's layout or its config changes: a directory with the model files (tokenizer.json, …) for
 * both tasks — the joint one-graph model of training/export_joint.py, whose config.json declares its
 * `finsentry_languages` — or with `sentiment/` and `ner/` inside.
 */
export const MULTILINGUAL_MODEL_DIR = 'models/finsentry-multilingual';

export interface MultilingualModels {
  sentiment: string;
  ner: string;
  /** models.languages of the service: what the model reads. */
  languages: string[];
}

/** The multilingual model's paths and languages, or null when `dir` holds no model. */
export function findMultilingualModels(dir: string = MULTILINGUAL_MODEL_DIR): MultilingualModels | null {
  const task = (name: string) =>
    existsSync(path.join(dir, name, 'tokenizer.json')) ? path.join(dir, name) : dir;
  const sentiment = task('sentiment');
  if (!existsSync(path.join(sentiment, 'tokenizer.json'))) return null;
  return { sentiment, ner: task('ner'), languages: declaredLanguages(sentiment) ?? ['en', 'zh'] };
}

/** The languages the model's card declares (config.json `finsentry_languages`, training/export_joint.py). */
function declaredLanguages(dir: string): string[] | undefined {
  try {
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as {
      finsentry_languages?: unknown;
    };
    const declared = config.finsentry_languages;
    return Array.isArray(declared) && declared.every((l) => typeof l === 'string' && /^[a-z]{2,3}$/.test(l))
      ? [...(declared as string[])].sort()
      : undefined;
  } catch {
    return undefined;
  }
}
