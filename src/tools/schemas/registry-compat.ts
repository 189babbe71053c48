import type { Schema } from 'avsc';
import type { CompatibilityLevel, ConfluentRegistryClient } from '../../io/http/schema-registry.js';
import { compatResult, releasedPairs, type CompatResult } from './compat.js';

/**
 * The schema evolution check through a registry's own compatibility API (docs/schemas.md): for each
 * schema with a released version, a scratch subject holds the released schema, and the registry is
 * asked whether it would accept the current one under BACKWARD and under FORWARD. This is the check a
 * production registry applies when finsentry registers its outputs at start, so a change it would
 * refuse fails CI, not a deployment. The scratch subjects are deleted afterwards.
 */
export async function checkWithRegistry(
  client: ConfluentRegistryClient,
  schemasDir: string,
  subjectPrefix: string,
): Promise<CompatResult[]> {
  const results: CompatResult[] = [];
  for (const { file, current, released } of releasedPairs(schemasDir)) {
    const subject = `${subjectPrefix}-${file.replace(/\.avsc$/, '')}`;
    try {
      await client.register(subject, released);
      for (const direction of ['BACKWARD', 'FORWARD'] as const) {
        const ok = await isCompatibleUnder(client, subject, current, direction);
        results.push(
          compatResult(file, direction, ok ? undefined : `the registry refuses it under ${direction}`),
        );
      }
    } finally {
      await client.deleteSubject(subject).catch(() => undefined);
    }
  }
  return results;
}

async function isCompatibleUnder(
  client: ConfluentRegistryClient,
  subject: string,
  schema: Schema,
  level: CompatibilityLevel,
): Promise<boolean> {
  await client.setCompatibility(subject, level);
  return client.isCompatible(subject, schema);
}
