import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import type { Schema, Type } from 'avsc';

/**
 * Schema evolution check (docs/schemas.md): each schema of schemas/ against the previous release's
 * (schemas/released/), in both directions, with avsc's resolver — the same resolution rules a
 * consumer's Avro library applies:
 * - BACKWARD: the new schema reads data written with the released one (new consumers, old topics);
 * - FORWARD: the released schema reads data written with the new one (old consumers, new producers).
 * Resolvers are built and then exercised on random records of each writer schema, so that a rule
 * avsc only applies at read time (an enum symbol without a reader default) fails here too.
 */
export interface CompatResult {
  schema: string;
  direction: 'BACKWARD' | 'FORWARD';
  ok: boolean;
  problem?: string;
  /** A break this release makes on purpose, with its reason (ACCEPTED_BREAKS, docs/schemas.md). */
  accepted?: string;
}

/**
 * Incompatible changes this release makes on purpose, by "schema direction": each is named in
 * docs/schemas.md and printed by the check; the unit test also requires it to still be a break, so an
 * entry cannot outlive its reason.
 */
export const ACCEPTED_BREAKS: Readonly<Record<string, string>> = {
  'EnrichedDocument.avsc FORWARD':
    'sentiment is null for a document in a language no configured model reads (design §3, language routing): readers of the released schema fail on those records only; all other records still read',
};

const SAMPLES = 50;

/** Can `reader` read everything `writer` writes? Undefined when it can, else the problem. */
export function readProblem(reader: Type, writer: Type, samples = SAMPLES): string | undefined {
  try {
    const resolver = reader.createResolver(writer);
    for (let i = 0; i < samples; i++) reader.fromBuffer(writer.toBuffer(writer.random()), resolver);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** One direction's verdict: a problem is a failure unless ACCEPTED_BREAKS names it. */
export function compatResult(
  schema: string,
  direction: CompatResult['direction'],
  problem: string | undefined,
): CompatResult {
  const accepted = problem ? ACCEPTED_BREAKS[`${schema} ${direction}`] : undefined;
  return {
    schema,
    direction,
    ok: !problem || accepted !== undefined,
    ...(problem ? { problem } : {}),
    ...(accepted ? { accepted } : {}),
  };
}

export function checkCompatibility(current: Type, released: Type, schema: string): CompatResult[] {
  return [
    compatResult(schema, 'BACKWARD', readProblem(current, released)),
    compatResult(schema, 'FORWARD', readProblem(released, current)),
  ];
}

/** Pairs (file name, current schema JSON, released schema JSON) of every schema with a released version. */
export function releasedPairs(
  schemasDir: string,
): Array<{ file: string; current: Schema; released: Schema }> {
  const releasedDir = path.join(schemasDir, 'released');
  const released = new Set(readdirSync(releasedDir).filter((f) => f.endsWith('.avsc')));
  const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Schema;
  return readdirSync(schemasDir)
    .filter((f) => f.endsWith('.avsc') && released.has(f))
    .sort()
    .map((file) => ({
      file,
      current: read(path.join(schemasDir, file)),
      released: read(path.join(releasedDir, file)),
    }));
}

/** Every schemas/*.avsc with a released version; a schema new in this release has nothing to check. */
export function checkSchemaDir(schemasDir: string): CompatResult[] {
  return releasedPairs(schemasDir).flatMap(({ file, current, released }) =>
    checkCompatibility(avro.Type.forSchema(current), avro.Type.forSchema(released), file),
  );
}
