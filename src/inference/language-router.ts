import type {
  Enricher,
  Enrichment,
  EnrichRequest,
  ModelInfo,
  UnscoredEnrichment,
} from '../domain/enrichment.js';
import { LanguageResolver, loadEldDetector, type LanguageDetector, type LanguagePolicy } from './language.js';

export interface LanguageRouterOptions {
  /** Primary subtags the inner enricher's models read. */
  languages: readonly string[];
  policy: LanguagePolicy;
  detector: LanguageDetector;
  /** Called once per unscored document (a metric counts them per language). */
  onUnscored?: (language: string) => void;
}

/**
 * An Enricher that only hands the models documents in a language they read (design §3). The others
 * come back with their language and `unscored: 'unsupported-language'` and no sentiment, in request
 * order, so the pipeline still writes one enriched record per input and loses nothing.
 */
export class LanguageRoutingEnricher implements Enricher {
  private readonly supported: ReadonlySet<string>;
  private readonly resolver: LanguageResolver;

  constructor(
    private readonly inner: Enricher,
    private readonly options: LanguageRouterOptions,
  ) {
    this.supported = new Set(options.languages);
    this.resolver = new LanguageResolver(options.detector, options.policy);
  }

  get models(): ModelInfo[] {
    return this.inner.models;
  }

  async enrich(requests: EnrichRequest[]): Promise<Enrichment[]> {
    const languages = requests.map((r) => this.resolver.resolve(r.language ?? '', r.text));
    const scored = requests.filter((_, i) => this.supported.has(languages[i]!.language));
    const results = scored.length > 0 ? await this.inner.enrich(scored) : [];
    let next = 0;
    return requests.map((_, i): Enrichment => {
      const language = languages[i]!;
      if (this.supported.has(language.language)) return { ...results[next++]!, language };
      this.options.onUnscored?.(language.language);
      const unscored: UnscoredEnrichment = {
        entities: [],
        models: this.inner.models,
        language,
        unscored: 'unsupported-language',
      };
      return unscored;
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * The enricher the service and `finsentry infer` use: `inner` wrapped in language routing when
 * models.languages names any language (the default: English), `inner` itself when it is empty.
 */
export async function withLanguageRouting(
  inner: Enricher,
  models: { languages: readonly string[]; languagePolicy: LanguagePolicy },
  onUnscored?: (language: string) => void,
): Promise<Enricher> {
  if (models.languages.length === 0) return inner;
  return new LanguageRoutingEnricher(inner, {
    languages: models.languages,
    policy: models.languagePolicy,
    detector: await loadEldDetector(),
    ...(onUnscored ? { onUnscored } : {}),
  });
}
