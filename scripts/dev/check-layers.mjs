#!/usr/bin/env node
// Checks the layering of src/ (docs/design.md, Layout): run by `npm run lint`.
//  1. no import cycle between the top-level folders of src/ (src/io → src/stats → src/io …);
//  2. the service never imports src/tools (only src/cli, which registers the tool commands, and
//     src/tools itself may);
//  3. the domain folders import no adapter from src/io (an `import type` is tolerated, a value is not).
// Imports are read with the TypeScript parser: static imports and re-exports, `import type`, and
// dynamic `import('…')`. Prints every offending import and exits 1.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// The repository root (or another checkout's, given as the argument).
const root = process.argv[2]
  ? path.resolve(process.argv[2])
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const src = path.join(root, 'src');
const DOMAIN = new Set(['stats', 'alerts', 'domain', 'pipeline', 'inference', 'codec']);
const MAY_IMPORT_TOOLS = new Set(['cli', 'tools']);

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(m?ts|tsx)$/.test(name) && !name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Every relative import of a file: { specifier, typeOnly, line }. */
function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out = [];
  const add = (node, spec, typeOnly) => {
    if (!spec.startsWith('.')) return;
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    out.push({ specifier: spec, typeOnly, line });
  };
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        !!clause &&
        (clause.isTypeOnly ||
          (!clause.name &&
            !!clause.namedBindings &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node, node.moduleSpecifier.text, typeOnly);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      const typeOnly =
        node.isTypeOnly ||
        (!!node.exportClause &&
          ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.length > 0 &&
          node.exportClause.elements.every((e) => e.isTypeOnly));
      add(node, node.moduleSpecifier.text, typeOnly);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments.length > 0 &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node, node.arguments[0].text, false);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      add(node, node.argument.literal.text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Top-level folder of src/ a path lies in (null outside src/ or for files directly in src/). */
function folderOf(file) {
  const rel = path.relative(src, file);
  if (rel.startsWith('..')) return null;
  const parts = rel.split(path.sep);
  return parts.length > 1 ? parts[0] : null;
}

const problems = [];
/** folder → folder → first few imports that make the edge (for printing cycles). */
const edges = new Map();
for (const file of sourceFiles(src)) {
  const from = folderOf(file);
  if (!from) continue;
  for (const imp of importsOf(file)) {
    const target = path.resolve(path.dirname(file), imp.specifier);
    const to = folderOf(target);
    if (!to || to === from) continue;
    const where = `${path.relative(root, file)}:${imp.line}: ${imp.typeOnly ? 'import type ' : 'import '}'${imp.specifier}'`;
    if (!edges.has(from)) edges.set(from, new Map());
    const list = edges.get(from).get(to) ?? [];
    list.push(where);
    edges.get(from).set(to, list);
    if (to === 'tools' && !MAY_IMPORT_TOOLS.has(from))
      problems.push(`service imports tooling (src/${from} → src/tools): ${where}`);
    if (to === 'io' && DOMAIN.has(from) && !imp.typeOnly)
      problems.push(`domain folder imports an adapter (src/${from} → src/io): ${where}`);
  }
}

// Folder cycles: strongly connected components of the folder graph (Tarjan).
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
let counter = 0;
const components = [];
function strongConnect(v) {
  index.set(v, counter);
  low.set(v, counter++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!index.has(w)) {
      strongConnect(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) === index.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) components.push(component.sort());
  }
}
for (const v of edges.keys()) if (!index.has(v)) strongConnect(v);
for (const component of components) {
  const inside = new Set(component);
  const lines = [];
  for (const from of component)
    for (const [to, list] of edges.get(from) ?? [])
      if (inside.has(to))
        lines.push(
          `  src/${from} → src/${to}: ${list.slice(0, 3).join('; ')}${list.length > 3 ? ` (+${list.length - 3} more)` : ''}`,
        );
  problems.push(
    `folder import cycle among ${component.map((f) => `src/${f}`).join(', ')}:\n${lines.join('\n')}`,
  );
}

if (problems.length > 0) {
  process.stderr.write(
    `check-layers: ${problems.length} problem(s) (docs/design.md, Layout)\n${problems.join('\n')}\n`,
  );
  process.exit(1);
}
process.stdout.write(
  `check-layers: ok (${edges.size} folders, no cycle, no tooling or adapter imports from the service/domain)\n`,
);
