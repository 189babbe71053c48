import type {
  Enricher,
  Enrichment,
  EnrichRequest,
  ModelInfo,
  UnscoredEnrichment,
} from '../domain/enrichment.js';
import { LanguageResolver, type LanguageDetector, type LanguagePolicy } from './language.js';

/** A model set and the languages it scores (models.languages + sentiment/ner, or one of models.sets). */
export interface ModelRoute {
  /** The set's name, for logs. */
  name: string;
  /** Primary subtags the set's models read; a language appears in one route at most. */
  languages: readonly string[];
  enricher: Enricher;
}

export interface LanguageRouterOptions {
  policy: LanguagePolicy;
  detector: LanguageDetector;
  /** Called once per unscored document (a metric counts them per language). */
  onUnscored?: (language: string) => void;
}

/**
 * An Enricher that hands each document to the model set that reads its language (design §3). Those
 * in a language no set reads come back with their language and `unscored: 'unsupported-language'`
 * and no sentiment, in request order, so the pipeline still writes one enriched record per input and
 * loses nothing. The sets of one call run concurrently.
 */
export class LanguageRoutingEnricher implements Enricher {
  private readonly routeOf = new Map<string, number>();
  private readonly resolver: LanguageResolver;
  readonly models: ModelInfo[];

  constructor(
    private readonly routes: readonly ModelRoute[],
    private readonly options: LanguageRouterOptions,
  ) {
    routes.forEach((route, index) => {
      for (const language of route.languages) {
        const other = this.routeOf.get(language);
        if (other !== undefined)
          throw new Error(`language ${language} is routed to both ${routes[other]!.name} and ${route.name}`);
        this.routeOf.set(language, index);
      }
    });
    this.resolver = new LanguageResolver(options.detector, options.policy);
    this.models = routes.flatMap((r) => r.enricher.models);
  }

  async enrich(requests: EnrichRequest[]): Promise<Enrichment[]> {
    const languages = requests.map((r) => this.resolver.resolve(r.language ?? '', r.text));
    const routeIndex = languages.map((l) => this.routeOf.get(l.language));
    const perRoute = await Promise.all(
      this.routes.map(async (route, index) => {
        const mine = requests.filter((_, i) => routeIndex[i] === index);
        return mine.length > 0 ? route.enricher.enrich(mine) : [];
      }),
    );
    const next = this.routes.map(() => 0);
    return requests.map((_, i): Enrichment => {
      const language = languages[i]!;
      const index = routeIndex[i];
      if (index !== undefined) return { ...perRoute[index]![next[index]!++]!, language };
      this.options.onUnscored?.(language.language);
      const unscored: UnscoredEnrichment = {
        entities: [],
        models: this.models,
        language,
        unscored: 'unsupported-language',
      };
      return unscored;
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.routes.map((r) => r.enricher.close()));
  }
}
