#!/usr/bin/env node
// (Re)writes models/MANIFEST.json: the sha256 and size of every file of the committed model
// directories but their documentation (*.md), which test/unit/inference/model-defaults.test.ts checks the working tree against. Run it after
// committing a new model: `node scripts/dev/model-hashes.mjs` (all model directories under models/)
// or `node scripts/dev/model-hashes.mjs models/finsentry-multilingual` (that one entry only).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
const manifestPath = join(root, 'models', 'MANIFEST.json');

/** Files under dir but *.md, relative paths with forward slashes, sorted (the test lists them alike). */
function files(dir, prefix = '') {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? files(join(dir, e.name), `${prefix}${e.name}/`)
        : e.isFile() && !e.name.endsWith('.md')
          ? [`${prefix}${e.name}`]
          : [],
    )
    .sort();
}

function describe(dir) {
  const out = {};
  for (const file of files(dir)) {
    const bytes = readFileSync(join(dir, file));
    out[file] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  }
  return out;
}

const args = process.argv.slice(2);
const dirs = args.length
  ? args.map((a) => resolve(a))
  : readdirSync(join(root, 'models'))
      .map((name) => join(root, 'models', name))
      .filter((d) => statSync(d).isDirectory());
const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : {};
// All directories: written afresh; named ones: replaced, the others kept.
const models = args.length ? { ...(manifest.models ?? {}) } : {};
for (const dir of dirs) {
  if (!existsSync(join(dir, 'config.json')))
    throw new Error(`${dir} is not a model directory (no config.json)`);
  models[basename(dir)] = describe(dir);
  process.stdout.write(`${relative(root, dir)}: ${Object.keys(models[basename(dir)]).length} files\n`);
}
const sorted = Object.fromEntries(
  Object.keys(models)
    .sort()
    .map((k) => [k, models[k]]),
);
writeFileSync(
  manifestPath,
  `${JSON.stringify({ generatedBy: 'scripts/dev/model-hashes.mjs', models: sorted }, null, 2)}\n`,
);
process.stdout.write(`wrote ${relative(root, manifestPath)}\n`);
