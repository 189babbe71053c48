import { existsSync } from 'node:fs';
import type { BatchingConfig, ModelSetConfig, ModelsConfig } from '../config/schema.js';
import type { Enricher } from '../domain/enrichment.js';
import { OnnxEnricher, type OnnxEnricherOptions } from './enricher.js';
import { loadEldDetector } from './language.js';
import { LanguageRoutingEnricher, type ModelRoute } from './language-router.js';
import { ModelLoadError } from './model.js';

/** Name of the sentiment/ner pair (`models.sentiment`, `models.ner`, `models.languages`) in logs. */
export const PRIMARY_SET = 'default';

export type RoutedEnricher = Enricher & { providers: Record<string, string> };

/**
 * Never score a language with a model that cannot read it (design §3): a model that states its
 * languages (config.json `finsentry_languages`) must list every language its set is routed.
 */
function checkReads(set: string, enricher: OnnxEnricher, languages: readonly string[]): void {
  const spec = enricher.sentiment.runner.spec;
  if (!spec.languages) return;
  const unread = languages.filter((l) => !spec.languages!.includes(l));
  if (unread.length > 0)
    throw new ModelLoadError(
      `model set ${set}: ${spec.dir} reads ${spec.languages.join(', ')}, not ${unread.join(', ')} (config.json finsentry_languages)`,
    );
}

async function loadSet(
  set: ModelSetConfig,
  models: ModelsConfig,
  batching: BatchingConfig,
  options: OnnxEnricherOptions,
  withNer: boolean,
): Promise<(ModelRoute & { enricher: OnnxEnricher }) | undefined> {
  if (set.optional && !existsSync(set.path)) {
    options.logger?.info(
      { set: set.name, path: set.path, languages: set.languages },
      'optional model set not installed: its languages stay unscored',
    );
    return undefined;
  }
  const enricher = await OnnxEnricher.createFromDirectory(
    { ...set, ner: withNer },
    models,
    batching,
    options,
  );
  try {
    checkReads(set.name, enricher, set.languages);
  } catch (err) {
    await enricher.close();
    throw err;
  }
  return { name: set.name, languages: set.languages, enricher };
}

/**
 * The enricher the service and `finsentry infer` use: `primary` (the sentiment/ner pair) for
 * `models.languages`, each of `models.sets` for its languages, every other language unscored
 * (docs/inference.md "Model sets"). With `models.languages` empty routing is off and `primary` scores
 * everything, as before sets existed. Takes ownership of `primary`: closed on failure.
 */
export async function loadRoutedEnricher(
  primary: OnnxEnricher,
  models: ModelsConfig,
  batching: BatchingConfig,
  options: OnnxEnricherOptions & { onUnscored?: (language: string) => void } = {},
): Promise<RoutedEnricher> {
  const { onUnscored, ...engine } = options;
  if (models.languages.length === 0) {
    if (models.sets.length > 0)
      options.logger?.warn(
        { sets: models.sets.map((s) => s.name) },
        'models.languages is empty: routing is off, models.sets unused',
      );
    return primary;
  }
  const routes: Array<ModelRoute & { enricher: OnnxEnricher }> = [
    { name: PRIMARY_SET, languages: models.languages, enricher: primary },
  ];
  try {
    checkReads(PRIMARY_SET, primary, models.languages);
    for (const set of models.sets) {
      const route = await loadSet(set, models, batching, engine, primary.ner !== undefined);
      if (route) routes.push(route);
    }
    const router = new LanguageRoutingEnricher(routes, {
      policy: models.languagePolicy,
      detector: await loadEldDetector(),
      ...(onUnscored ? { onUnscored } : {}),
    });
    options.logger?.info(
      {
        routes: routes.map((r) => ({ set: r.name, languages: r.languages, models: r.enricher.models })),
      },
      `language routing: ${routes.map((r) => `${r.languages.join('+')} → ${r.name}`).join('; ')}; other languages unscored`,
    );
    return Object.assign(router, { providers: mergedProviders(routes) });
  } catch (err) {
    await Promise.all(routes.map((r) => r.enricher.close()));
    throw err;
  }
}

/** Provider per task for finsentry_model_info; the sentiment/ner pair's wins where sets share a task. */
function mergedProviders(routes: readonly ModelRoute[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const route of [...routes].reverse()) Object.assign(out, (route.enricher as OnnxEnricher).providers);
  return out;
}
