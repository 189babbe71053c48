// config/finsentry.example.yaml claims to show every field with its default: walk the zod schema and
// require every leaf field's path in the example (as a key, or in a commented-out line), so that a new
// field without an example line fails here.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { configSchema } from '../../../src/config/schema.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const exampleFile = path.join(repoRoot, 'config/finsentry.example.yaml');

interface ZodLike {
  _zod: { def: { type: string; innerType?: ZodLike; in?: ZodLike; shape?: Record<string, ZodLike> } };
}

/** Dotted paths of the leaf fields of an object schema (records, arrays and enums are leaves). */
function leafPaths(schema: ZodLike, prefix: string): string[] {
  const def = schema._zod.def;
  switch (def.type) {
    case 'default':
    case 'optional':
    case 'nullable':
    case 'prefault':
      return leafPaths(def.innerType!, prefix);
    case 'pipe':
      return leafPaths(def.in!, prefix);
    case 'object':
      return Object.entries(def.shape!).flatMap(([key, child]) =>
        leafPaths(child, prefix ? `${prefix}.${key}` : key),
      );
    default:
      return [prefix];
  }
}

/** Keys of the example (uncommented) plus the keys of commented-out YAML lines, as dotted paths. */
function examplePaths(text: string): Set<string> {
  const uncommented = text
    .split('\n')
    .map((line) => line.replace(/^(\s*)# (?=[A-Za-z]+:)/, '$1'))
    .join('\n');
  const paths = new Set<string>();
  const walk = (node: unknown, prefix: string): void => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
    for (const [key, value] of Object.entries(node)) {
      const p = prefix ? `${prefix}.${key}` : key;
      paths.add(p);
      walk(value, p);
    }
  };
  walk(parse(uncommented), '');
  return paths;
}

describe('config/finsentry.example.yaml', () => {
  const text = readFileSync(exampleFile, 'utf8');

  it('is a valid config', () => {
    expect(() => parseConfig(parse(text), {})).not.toThrow();
  });

  it('shows every field of the schema', () => {
    const leaves = leafPaths(configSchema as unknown as ZodLike, '');
    expect(leaves.length).toBeGreaterThan(60);
    const shown = examplePaths(text);
    // Rule fields are in the `alerts.rules` list items, dimension fields in `stats.dimensions`' items;
    // a secret is { env } or { file }: one of them shown is enough.
    const missing = leaves.filter(
      (p) =>
        !shown.has(p) &&
        !p.startsWith('alerts.rules') &&
        !(p.endsWith('.file') && shown.has(p.replace(/\.file$/, '.env'))),
    );
    expect(missing).toEqual([]);
  });

  it('shows the defaults: uncommented values equal the schema defaults', () => {
    const example = parseConfig(parse(text), {});
    const defaults = parseConfig({}, {});
    const { alerts: _exampleRules, ...exampleRest } = example;
    const { alerts: _defaultRules, ...defaultRest } = defaults;
    expect(exampleRest).toEqual(defaultRest);
  });
});
