// Schema evolution (docs/schemas.md): the shipped schemas are BACKWARD and FORWARD compatible with the
// previous release's (schemas/released/), and the check catches the changes that break consumers.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import type { Schema } from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  ACCEPTED_BREAKS,
  checkCompatibility,
  checkSchemaDir,
  readProblem,
} from '../../../../src/tools/schemas/compat.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

function alertKind(symbols: string[], withDefault: boolean) {
  return avro.Type.forSchema({
    type: 'record',
    name: 'A',
    fields: [
      {
        name: 'kind',
        type: {
          type: 'enum',
          name: 'Kind',
          symbols,
          ...(withDefault ? { default: symbols[0] } : {}),
        },
      },
    ],
  } as Schema);
}

describe('schema compatibility against the previous release', () => {
  it('every schema of schemas/ is BACKWARD and FORWARD compatible with schemas/released/', () => {
    const results = checkSchemaDir(path.join(repoRoot, 'schemas'));
    expect(results.length).toBe(12); // 6 schemas × 2 directions
    expect(results.filter((r) => !r.ok)).toEqual([]);
    // every accepted break (ACCEPTED_BREAKS, docs/schemas.md) is still a break: no stale entry
    const accepted = results.filter((r) => r.accepted).map((r) => `${r.schema} ${r.direction}`);
    expect(accepted.sort()).toEqual(Object.keys(ACCEPTED_BREAKS).sort());
  });

  it('a new enum symbol is readable by an old reader only when the reader enum has a default', () => {
    const newWriter = alertKind(['sentiment', 'fairness', 'drift', 'pipeline', 'latency'], true);
    const value = newWriter.toBuffer({ kind: 'latency' });
    const oldWithDefault = alertKind(['sentiment', 'fairness', 'drift', 'pipeline'], true);
    expect(oldWithDefault.fromBuffer(value, oldWithDefault.createResolver(newWriter))).toEqual({
      kind: 'sentiment',
    });
    const oldWithout = alertKind(['sentiment', 'fairness', 'drift', 'pipeline'], false);
    expect(readProblem(oldWithout, newWriter, 200)).toBeDefined();
    expect(checkCompatibility(newWriter, oldWithout, 'A')).toEqual([
      { schema: 'A', direction: 'BACKWARD', ok: true },
      expect.objectContaining({ schema: 'A', direction: 'FORWARD', ok: false }),
    ]);
  });

  it('a field added without a default breaks BACKWARD; with a default it is compatible both ways', () => {
    const v1 = avro.Type.forSchema({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }] });
    const added = (withDefault: boolean) =>
      avro.Type.forSchema({
        type: 'record',
        name: 'R',
        fields: [
          { name: 'a', type: 'string' },
          { name: 'b', type: 'long', ...(withDefault ? { default: 0 } : {}) },
        ],
      } as Schema);
    expect(checkCompatibility(added(false), v1, 'R').map((r) => r.ok)).toEqual([false, true]);
    expect(checkCompatibility(added(true), v1, 'R').map((r) => r.ok)).toEqual([true, true]);
  });
});
