#!/usr/bin/env node
// Lists blocks of 10 or more code lines that stand identically in two source files of src/ (design.md,
// Layout: one piece of code where the logic is the same): run by `npm run lint`, exit 1 on any.
// Lines are compared trimmed; blank lines, comments, imports and lone punctuation are passed over, so
// a block is ten lines that carry code. Repetition inside one file is not reported (a table of
// similar entries is often clearer written out), nor is a block that differs only by names (the
// `duplicates` tool, where installed, also finds those: `duplicates --min-lines 10`).
//   node scripts/dev/repeated-blocks.mjs [--min-lines N] [dir...]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const at = args.indexOf('--min-lines');
const minLines = at >= 0 ? Number(args[at + 1]) : 10;
const dirs = args.filter((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1));

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(m?ts|tsx|mjs|js)$/.test(name) && !name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The file's code lines with their line numbers: no blanks, comments, imports or lone punctuation. */
function codeLines(file) {
  const out = [];
  let inBlockComment = false;
  let inImport = false;
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.trim();
      if (inBlockComment) {
        if (line.includes('*/')) inBlockComment = false;
        return;
      }
      if (inImport) {
        if (line.endsWith(';')) inImport = false;
        return;
      }
      if (/^(import|export \{|export \* from|export type \{)/.test(line)) {
        inImport = !line.endsWith(';');
        return;
      }
      if (line.startsWith('/*')) {
        inBlockComment = !line.includes('*/');
        return;
      }
      if (line === '' || line.startsWith('//')) return;
      if (/^[\s{}()[\];,]*$/.test(line)) return;
      out.push({ text: line, line: i + 1 });
    });
  return out;
}

const files = (dirs.length > 0 ? dirs : ['src']).flatMap(sourceFiles);
/** First place of each window of minLines code lines: key → { file, line }. */
const seen = new Map();
const pairs = new Map();
for (const file of files) {
  const lines = codeLines(file);
  const mine = new Set();
  for (let i = 0; i + minLines <= lines.length; i++) {
    const key = lines
      .slice(i, i + minLines)
      .map((l) => l.text)
      .join('\n');
    if (mine.has(key)) continue;
    mine.add(key);
    const first = seen.get(key);
    if (!first) seen.set(key, { file, line: lines[i].line });
    else if (first.file !== file) {
      const pair = `${first.file} ~ ${file}`;
      if (!pairs.has(pair)) pairs.set(pair, `${first.file}:${first.line} ~ ${file}:${lines[i].line}`);
    }
  }
}
for (const where of pairs.values()) console.log(`repeated block of ${minLines}+ lines: ${where}`);
console.log(
  `repeated-blocks: ${pairs.size} pair(s) of files sharing ${minLines}+ identical code lines (${files.length} files)`,
);
process.exitCode = pairs.size > 0 ? 1 : 0;
