import { spawn, type ChildProcess } from 'node:child_process';
import type { WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { DemoError, Interrupted } from './errors.js';
import { httpOk, sleep } from './probes.js';

/** The `finsentry run` child process: output to the run log, the metrics port from its log line. */
export class ServiceProcess {
  readonly child: ChildProcess;
  port: number | null = null;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<void>;
  private readonly tail: string[] = [];

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv, log: WriteStream) {
    // Own process group: the terminal's Ctrl-C reaches the demo only, which then stops the service in order.
    this.child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
      this.child.once('error', (err) => {
        this.tail.push(`spawn failed: ${err.message}`);
        this.exit = { code: null, signal: null };
        resolve();
      });
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        log.write(`${line}\n`);
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
        this.parse(line);
      });
    }
  }

  private parse(line: string): void {
    if (!line.startsWith('{')) return;
    try {
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg?.startsWith('ops server listening') && typeof entry.port === 'number')
        this.port = entry.port;
    } catch {
      // not a log line of ours
    }
  }

  /** The last log lines, messages only when they are pino JSON. */
  lastLines(n = 12): string[] {
    return this.tail.slice(-n).map((line) => {
      try {
        const e = JSON.parse(line) as { msg?: string; err?: { message?: string } };
        return e.msg
          ? `${e.msg}${e.err?.message && !e.msg.includes(e.err.message) ? `: ${e.err.message}` : ''}`
          : line;
      } catch {
        return line;
      }
    });
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export function describeExit(service: ServiceProcess): string {
  const e = service.exit;
  if (!e) return 'running';
  return e.signal ? `signal ${e.signal}` : `exit code ${e.code}`;
}

export async function waitForReady(
  service: ServiceProcess,
  host: string,
  signal: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (signal.aborted) throw new Interrupted('interrupted');
    if (!service.running) {
      throw new DemoError(
        `finsentry run exited during start-up (${describeExit(service)}); last log lines:\n    ${service.lastLines().join('\n    ')}`,
      );
    }
    if (service.port !== null && (await httpOk(`http://${host}:${service.port}/readyz`, 1_000))) return;
    if (Date.now() > deadline)
      throw new DemoError('finsentry run was not ready within 5 minutes (loading models?)');
    await sleep(500, signal);
  }
}

/** The error of a service that died while the demo needed it, with its last log lines. */
export function exitedUnexpectedly(service: ServiceProcess): DemoError {
  return new DemoError(
    `finsentry run exited unexpectedly (${describeExit(service)}); last log lines:\n    ${service.lastLines().join('\n    ')}`,
  );
}
