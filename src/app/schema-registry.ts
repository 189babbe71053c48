import { SchemaRegistry } from '../codec/registry.js';
import type { FinsentryConfig } from '../config/schema.js';
import { registryClientFromConfig } from '../io/http/schema-registry.js';

/**
 * The decoder's schema ids from config codec: the local id map plus, when a registry URL is set, the
 * registry client with its look-up cache settings (docs/schemas.md#schema-registry).
 */
export function schemaRegistryFromConfig(
  codec: FinsentryConfig['codec'],
  env: NodeJS.ProcessEnv = process.env,
): SchemaRegistry {
  const client = registryClientFromConfig(codec, env);
  return new SchemaRegistry({
    schemaIds: codec.schemaIds,
    ...(client ? { lookup: client } : {}),
    notFoundTtlMs: codec.registry.notFoundTtl,
    notFoundMaxEntries: codec.registry.notFoundMaxEntries,
    maxConcurrentLookups: codec.registry.maxConcurrentLookups,
  });
}
