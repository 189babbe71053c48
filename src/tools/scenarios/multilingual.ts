import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Where the scenarios and the demo find the multilingual (Chinese + English) model of issue 15, and
 * how they configure the service to route `zh` (and `en`) documents to it. The one place to change if
 * the model's layout or its config changes: a directory with the model files (tokenizer.json, …) for
 * both tasks, or with `sentiment/` and `ner/` inside.
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
  return { sentiment, ner: task('ner'), languages: ['en', 'zh'] };
}
