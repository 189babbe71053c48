import { readFileSync } from 'node:fs';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { resolveSecret } from '../../config/load.js';
import type { RedisConfig } from '../../config/schema.js';

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

/** Client from config: `cluster` seed nodes when set, else `url`; AUTH/ACL and TLS from config and secrets. */
export function createRedisClient(cfg: RedisConfig, env: NodeJS.ProcessEnv = process.env): RedisClient {
  const common: RedisOptions = {
    username: cfg.username,
    password: resolveSecret(cfg.password, env),
    tls: tlsOptions(cfg),
    commandTimeout: cfg.commandTimeout,
    maxRetriesPerRequest: 3,
    lazyConnect: false,
  };
  if (cfg.cluster && cfg.cluster.length > 0) {
    const nodes = cfg.cluster.map((hp) => {
      const i = hp.lastIndexOf(':');
      return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
    });
    const options: ClusterOptions = { redisOptions: common, scaleReads: 'master', enableReadyCheck: true };
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
