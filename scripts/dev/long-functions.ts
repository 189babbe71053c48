// Lists functions in src/ longer than a limit (default 100 lines), measured with the TypeScript parser:
// declarations, methods, constructors, accessors, function expressions and arrows. A function may stay
// long when a comment just above it gives the reason, starting `long-function:`. Exit 1 when any
// function over the limit has no reason (a lint check: `npx tsx scripts/dev/long-functions.ts`).
//   npx tsx scripts/dev/long-functions.ts [--limit N] [--all] [dir or file...]
//   --all also lists the functions over the limit that carry a reason.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

interface Finding {
  file: string;
  line: number;
  name: string;
  lines: number;
  reason: string | null;
}

const REASON = /long-function:\s*(.+)/;

function sourceFiles(dir: string): string[] {
  if (!statSync(dir).isDirectory()) return [dir];
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') && !full.endsWith('.d.ts') ? [full] : [];
  });
}

function nameOf(node: ts.Node, sf: ts.SourceFile): string {
  const named = node as { name?: ts.Node };
  if (named.name) return named.name.getText(sf);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyDeclaration(parent) || ts.isPropertyAssignment(parent))
    return parent.name.getText(sf);
  if (ts.isCallExpression(parent)) {
    const callee = parent.expression;
    return `(callback of ${ts.isPropertyAccessExpression(callee) ? `.${callee.name.text}` : callee.getText(sf).slice(0, 40)})`;
  }
  return '(anonymous)';
}

/** The reason in the comments just above the function (or above the statement that holds it). */
function reasonOf(node: ts.Node, sf: ts.SourceFile): string | null {
  let holder: ts.Node = node;
  while (
    holder.parent &&
    (ts.isVariableDeclaration(holder.parent) ||
      ts.isVariableDeclarationList(holder.parent) ||
      ts.isVariableStatement(holder.parent) ||
      ts.isPropertyDeclaration(holder.parent) ||
      ts.isPropertyAssignment(holder.parent) ||
      ts.isExportAssignment(holder.parent))
  )
    holder = holder.parent;
  const text = sf.getFullText();
  for (const range of ts.getLeadingCommentRanges(text, holder.getFullStart()) ?? []) {
    const match = REASON.exec(text.slice(range.pos, range.end));
    if (match) return match[1]!.replace(/\*\/\s*$/, '').trim();
  }
  return null;
}

function measure(file: string, limit: number): Finding[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Finding[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
      const lines = end - start + 1;
      if (lines > limit)
        found.push({ file, line: start, name: nameOf(node, sf), lines, reason: reasonOf(node, sf) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

const args = process.argv.slice(2);
const limitAt = args.indexOf('--limit');
const limit = limitAt >= 0 ? Number(args[limitAt + 1]) : 100;
const all = args.includes('--all');
const dirs = args.filter((a, i) => !a.startsWith('--') && (limitAt < 0 || i !== limitAt + 1));
const findings = (dirs.length > 0 ? dirs : ['src'])
  .flatMap(sourceFiles)
  .flatMap((file) => measure(file, limit))
  .sort((a, b) => b.lines - a.lines);
const unexplained = findings.filter((f) => f.reason === null);
for (const f of all ? findings : unexplained)
  console.log(`${f.file}:${f.line}  ${f.name}  ${f.lines} lines${f.reason ? `  (${f.reason})` : ''}`);
console.log(
  `${findings.length} function(s) over ${limit} lines, ${unexplained.length} without a \`long-function:\` reason`,
);
process.exitCode = unexplained.length > 0 ? 1 : 0;
