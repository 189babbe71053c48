import { SchemaRegistry, type SchemaLookup, type SchemaLookupOutcome } from '../codec/registry.js';
import { schemaJson } from '../codec/schemas.js';
import type { FinsentryConfig } from '../config/schema.js';
import { registryClientFromConfig } from '../io/http/schema-registry.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * The decoder's schema ids from config codec: the local id map plus, when a registry URL is set, the
 * registry client with its look-up cache settings (docs/schemas.md#schema-registry).
 */
export function schemaRegistryFromConfig(
  codec: FinsentryConfig['codec'],
  env: NodeJS.ProcessEnv = process.env,
  onLookup?: LookupObserver,
): SchemaRegistry {
  const client = registryClientFromConfig(codec, env);
  return new SchemaRegistry({
    schemaIds: codec.schemaIds,
    ...(client ? { lookup: onLookup ? observedLookup(client, onLookup) : client } : {}),
    notFoundTtlMs: codec.registry.notFoundTtl,
    notFoundMaxEntries: codec.registry.notFoundMaxEntries,
    maxConcurrentLookups: codec.registry.maxConcurrentLookups,
  });
}

export type LookupObserver = (outcome: SchemaLookupOutcome, seconds: number) => void;

/** Each look-up's outcome and duration (finsentry_schema_registry_lookup_duration_seconds). */
export function observedLookup(lookup: SchemaLookup, observe: LookupObserver): SchemaLookup {
  return {
    async schemaById(id) {
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        const result = await lookup.schemaById(id);
        observe(result.found ? 'found' : 'not_found', seconds());
        return result;
      } catch (err) {
        observe('error', seconds());
        throw err;
      }
    },
  };
}

/**
 * codec.registry.registerOutputSchemas: registers the EnrichedDocument and Alert schemas under the
 * TopicNameStrategy subjects of the output topics (<topic>-value) and answers the config with the ids
 * the registry gave as codec.enrichedSchemaId / alertsSchemaId, so that those topics are written in
 * the Confluent framing. Registration is idempotent (the same schema gets its existing id); a schema
 * the subject's compatibility rule refuses fails the start (409) instead of writing unreadable data.
 * The DLQ keeps each input's own bytes (schemas/DeadLetter.avsc), so it has no value schema to register.
 */
export async function withRegisteredOutputSchemas(
  config: FinsentryConfig,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<FinsentryConfig> {
  if (!config.codec.registry.registerOutputSchemas) return config;
  const client = registryClientFromConfig(config.codec, env);
  if (!client) throw new Error('codec.registry.registerOutputSchemas needs codec.registry.url');
  const { enriched, alerts } = config.kafka.topics;
  const enrichedSchemaId = await client.register(`${enriched}-value`, schemaJson('EnrichedDocument'));
  const alertsSchemaId = await client.register(`${alerts}-value`, schemaJson('Alert'));
  logger.info(
    { subjects: { [`${enriched}-value`]: enrichedSchemaId, [`${alerts}-value`]: alertsSchemaId } },
    'output schemas registered; enriched and alerts are written in the Confluent framing',
  );
  return { ...config, codec: { ...config.codec, enrichedSchemaId, alertsSchemaId } };
}
