import net from 'node:net';

/** Network probes of the demo's pre-flight checks and waits. */

export function tcpAnswers(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export async function httpOk(url: string, timeoutMs = 1500): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Whether that Prometheus has a scrape target on this host and port (the local stack's: 127.0.0.1:9464). */
export async function prometheusScrapes(prometheusUrl: string, port: number): Promise<boolean> {
  try {
    const res = await fetch(`${prometheusUrl}/api/v1/targets?state=active`, {
      signal: AbortSignal.timeout(2_000),
    });
    const body = (await res.json()) as { data?: { activeTargets?: Array<{ scrapeUrl?: string }> } };
    return (body.data?.activeTargets ?? []).some((t) => {
      try {
        const u = new URL(t.scrapeUrl ?? '');
        return ['127.0.0.1', 'localhost'].includes(u.hostname) && Number(u.port) === port;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export function hostPortOf(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
}
