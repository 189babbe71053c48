// A vitest reporter that writes every failure of a run — failed tests, and the errors of files and
// suites (a failed beforeAll leaves its tests "skipped" with no message in the JSON report) — to one
// short text file, named by FINSENTRY_FAILURE_SUMMARY. scripts/test.sh prints those files last, so the tail of a long CI log names the
// cause whichever suite ran last.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, TestModule, TestSuite } from 'vitest/node';

const LINES_PER_ERROR = 40;
const LIBRARY_FRAME = /^\s+at .*node_modules/;

type ReportedError = { message?: string; stack?: string; name?: string };

function excerpt(error: ReportedError): string {
  const text = error.stack ?? `${error.name ?? 'Error'}: ${error.message ?? ''}`;
  return text
    .split('\n')
    .filter((line) => !LIBRARY_FRAME.test(line))
    .slice(0, LINES_PER_ERROR)
    .map((line) => `    ${line}`)
    .join('\n');
}

function suiteFailures(module: TestModule): string[] {
  const entries: string[] = [];
  const where = (suite: TestModule | TestSuite): string =>
    suite.type === 'module' ? module.relativeModuleId : `${module.relativeModuleId} > ${suite.fullName}`;
  for (const suite of [module, ...module.children.allSuites()]) {
    for (const error of suite.errors())
      entries.push(`FAILED ${where(suite)} (file or hook)\n${excerpt(error)}`);
  }
  for (const test of module.children.allTests('failed')) {
    const errors = test.result().errors ?? [];
    entries.push(`FAILED ${module.relativeModuleId} > ${test.fullName}\n${errors.map(excerpt).join('\n')}`);
  }
  return entries;
}

export default class FailureSummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<ReportedError>): void {
    const entries = modules.flatMap(suiteFailures);
    for (const error of unhandled) entries.push(`UNHANDLED ERROR\n${excerpt(error)}`);
    const file = process.env.FINSENTRY_FAILURE_SUMMARY;
    if (!file) return;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, entries.length > 0 ? `${entries.join('\n\n')}\n` : '');
  }
}
