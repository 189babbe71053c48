// Any `finsentry` command as a real child process (from the TypeScript sources through tsx, so a test
// never runs a stale dist/), with its stdout+stderr collected, and readers for pino JSON log lines.
// (`finsentry run` for tests that signal or kill it: ProcessorProcess in processor-process.ts.)
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './stack.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

export interface FinsentryProcess {
  child: ChildProcess;
  exited: Promise<Exited>;
  /** Everything written to stdout and stderr so far. */
  output(): string;
}

export function startFinsentry(args: readonly string[], env: NodeJS.ProcessEnv = {}): FinsentryProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args],
    { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<Exited>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, output })),
  );
  return { child, exited, output: () => output };
}

/** The JSON log lines (pino) of a process output; other lines (progress, stack traces) are skipped. */
export function logLines(output: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line still being written
    }
  }
  return out;
}

/** What waitForLog reads: a process's output so far and whether it still runs. */
export interface LogSource {
  readonly output: string;
  readonly running: boolean;
}

/**
 * Waits for the first log line whose `msg` starts with `message`; fails early, with the output, when
 * the process exits first.
 */
export async function waitForLog(
  source: () => LogSource,
  message: string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  return waitFor(
    () => {
      const { output, running } = source();
      const line = logLines(output).find((l) => typeof l.msg === 'string' && l.msg.startsWith(message));
      if (line) return line;
      if (!running) throw new Error(`finsentry exited before logging "${message}"`);
      return undefined;
    },
    timeoutMs,
    200,
  ).catch((err: unknown) => {
    throw new Error(
      `${(err as Error).message}\n--- finsentry output (tail) ---\n${source().output.slice(-3000)}`,
    );
  });
}
