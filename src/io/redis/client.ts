import { readFileSync } from 'node:fs';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { resolveSecret } from '../../config/load.js';
import type { RedisConfig } from '../../config/schema.js';
import { ServerUnreachableError } from '../unreachable.js';

/** A single Redis or a Redis Cluster client; the window store works with both. */
export type RedisClient = Redis | Cluster;

export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

function tlsOptions(cfg: RedisConfig): RedisOptions['tls'] {
  if (!cfg.tls || !cfg.tls.enabled) return undefined;
  return {
    ca: cfg.tls.caFile ? readFileSync(cfg.tls.caFile) : undefined,
    cert: cfg.tls.certFile ? readFileSync(cfg.tls.certFile) : undefined,
    key: cfg.tls.keyFile ? readFileSync(cfg.tls.keyFile) : undefined,
    rejectUnauthorized: cfg.tls.rejectUnauthorized,
    servername: cfg.tls.servername,
  };
}

/** How a client reconnects; the service retries for ever, a CLI command a few times (connectRedis). */
export interface RedisConnectOptions {
  lazyConnect?: boolean;
  /** Reconnection attempts before giving up; unbounded when absent. */
  retries?: number;
  /** Receives the client's 'error' events (without a listener ioredis prints each one with its stack). */
  onError?: (err: Error) => void;
}

/** Client from config: `cluster` seed nodes when set, else `url`; AUTH/ACL and TLS from config and secrets. */
export function createRedisClient(
  cfg: RedisConfig,
  env: NodeJS.ProcessEnv = process.env,
  connect: RedisConnectOptions = {},
): RedisClient {
  const client = buildRedisClient(cfg, env, connect);
  if (connect.onError) client.on('error', connect.onError);
  return client;
}

function retryStrategy(retries: number | undefined): (times: number) => number | null {
  return (times) => (retries !== undefined && times > retries ? null : Math.min(times * 200, 2000));
}

function buildRedisClient(
  cfg: RedisConfig,
  env: NodeJS.ProcessEnv,
  connect: RedisConnectOptions,
): RedisClient {
  const common: RedisOptions = {
    username: cfg.username,
    password: resolveSecret(cfg.password, env),
    tls: tlsOptions(cfg),
    commandTimeout: cfg.commandTimeout,
    maxRetriesPerRequest: 3,
    lazyConnect: connect.lazyConnect ?? false,
    ...(connect.retries !== undefined ? { retryStrategy: retryStrategy(connect.retries) } : {}),
  };
  if (cfg.cluster && cfg.cluster.length > 0) {
    const nodes = cfg.cluster.map((hp) => {
      const i = hp.lastIndexOf(':');
      return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
    });
    const options: ClusterOptions = {
      redisOptions: common,
      scaleReads: 'master',
      enableReadyCheck: true,
      lazyConnect: common.lazyConnect,
      ...(connect.retries !== undefined ? { clusterRetryStrategy: retryStrategy(connect.retries) } : {}),
    };
    return new Cluster(nodes, options);
  }
  const url = new URL(cfg.url);
  return new Redis({
    ...common,
    host: url.hostname,
    port: url.port ? Number(url.port) : 6379,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    username: common.username ?? (url.username ? decodeURIComponent(url.username) : undefined),
    // (A password in the URL is refused by the config schema: secrets come from env or files only.)
    tls: url.protocol === 'rediss:' ? (common.tls ?? {}) : common.tls,
  });
}

/** Where the client points, as a user configured it (for error messages). */
export function redisTarget(cfg: RedisConfig): string {
  return cfg.cluster?.length ? `cluster ${cfg.cluster.join(',')}` : cfg.url;
}

/**
 * A connected client for a short-lived command: a few reconnection attempts, then one
 * ServerUnreachableError naming the URL and the setting (instead of ioredis' endless retries and its
 * "Unhandled error event" stack traces).
 */
export async function connectRedis(
  cfg: RedisConfig,
  env: NodeJS.ProcessEnv = process.env,
  retries = 2,
): Promise<RedisClient> {
  let lastError: unknown;
  const client = createRedisClient(cfg, env, {
    lazyConnect: true,
    retries,
    onError: (err) => {
      lastError = err;
    },
  });
  try {
    await client.connect();
    return client;
  } catch (err) {
    client.disconnect();
    const setting = cfg.cluster?.length
      ? 'redis.cluster (FINSENTRY_REDIS__CLUSTER)'
      : 'redis.url (FINSENTRY_REDIS__URL)';
    throw new ServerUnreachableError('Redis', redisTarget(cfg), setting, lastError ?? err);
  }
}
