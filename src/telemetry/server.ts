import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/**
 * The operations HTTP server on its own port (config.metrics): /metrics for Prometheus, /healthz for
 * liveness (the process answers and its liveness check, if any, passes: no stalled partition) and /readyz for readiness (every registered check passes — models
 * warmed, Kafka connected, Redis reachable). Components register and update their own checks.
 */

export type ReadinessCheck = () => boolean | Promise<boolean>;

export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();

  /** Registers (or replaces) a named check; a boolean is a fixed state updated with `set`. */
  set(name: string, check: ReadinessCheck | boolean): void {
    this.checks.set(name, typeof check === 'boolean' ? () => check : check);
  }

  delete(name: string): void {
    this.checks.delete(name);
  }

  /** Result per check; a throwing check counts as not ready. No checks at all = not ready. */
  async evaluate(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const checks: Record<string, boolean> = {};
    for (const [name, check] of this.checks) {
      try {
        checks[name] = (await check()) === true;
      } catch {
        checks[name] = false;
      }
    }
    const values = Object.values(checks);
    return { ready: values.length > 0 && values.every(Boolean), checks };
  }
}

/** Liveness beyond "the process answers": null when live, else why not (sent as JSON with a 503). */
export type LivenessCheck = () => Record<string, unknown> | null;

export interface OpsServerOptions {
  registry: Registry;
  readiness: Readiness;
  /** E.g. stalled partitions (src/io/kafka/lag-monitor.ts); /healthz answers 503 while it reports. */
  liveness?: LivenessCheck;
  port: number;
  host?: string;
}

export interface OpsServer {
  readonly server: Server;
  /** The bound port (useful with port 0 in tests). */
  readonly port: number;
  close(): Promise<void>;
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server = createServer((req, res) => {
    handle(options, req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  server.keepAliveTimeout = 65_000; // longer than Prometheus' scrape interval, so connections are reused
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

async function handle(options: OpsServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  switch (path) {
    case '/metrics': {
      const body = await options.registry.metrics();
      res.writeHead(200, { 'content-type': options.registry.contentType });
      res.end(body);
      return;
    }
    case '/healthz': {
      const problem = options.liveness?.() ?? null;
      res.writeHead(problem ? 503 : 200, { 'content-type': 'application/json' });
      res.end(problem ? `${JSON.stringify({ status: 'unhealthy', ...problem })}\n` : '{"status":"ok"}\n');
      return;
    }
    case '/readyz': {
      const result = await options.readiness.evaluate();
      res.writeHead(result.ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ status: result.ready ? 'ready' : 'not ready', checks: result.checks })}\n`);
      return;
    }
    default:
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
  }
}
