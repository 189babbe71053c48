// A test's own client of the Confluent Schema Registry REST API (plain fetch, independent of the
// product's src/io/http/schema-registry.ts), against the real registry of the local stack.
import { schemaRegistryUrl } from './stack.js';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${schemaRegistryUrl()}${path}`, {
    method,
    headers: { 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

/** POST /subjects/{subject}/versions → the schema id. */
export async function registerSchema(subject: string, schema: object): Promise<number> {
  const answer = (await call('POST', `/subjects/${encodeURIComponent(subject)}/versions`, {
    schema: JSON.stringify(schema),
  })) as { id: number };
  return answer.id;
}

/** PUT /config/{subject}: the subject's compatibility level (BACKWARD, FORWARD, FULL, NONE …). */
export async function setCompatibility(subject: string, level: string): Promise<void> {
  await call('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: level });
}

/** POST /compatibility/subjects/{subject}/versions/latest → is_compatible. */
export async function isCompatibleWithLatest(subject: string, schema: object): Promise<boolean> {
  const answer = (await call(
    'POST',
    `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`,
    {
      schema: JSON.stringify(schema),
    },
  )) as { is_compatible: boolean };
  return answer.is_compatible;
}

/** GET /subjects/{subject}/versions → the version numbers. */
export async function subjectVersions(subject: string): Promise<number[]> {
  return (await call('GET', `/subjects/${encodeURIComponent(subject)}/versions`)) as number[];
}

/** DELETE /subjects/{subject} (soft) then ?permanent=true; ignores a subject that is already gone. */
export async function deleteSubject(subject: string): Promise<void> {
  for (const suffix of ['', '?permanent=true']) {
    await call('DELETE', `/subjects/${encodeURIComponent(subject)}${suffix}`).catch(() => undefined);
  }
}
