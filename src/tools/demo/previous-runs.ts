import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import type { FinsentryConfig } from '../../config/schema.js';
import { createRedisClient } from '../../io/redis/client.js';
import { RedisWindowStore, windowStoreOptions } from '../../io/redis/window-store.js';
import { demoNames } from './config.js';

/** What a run directory's demo.json says (for cleaning up runs that ended). */
export interface RunState {
  runId: string;
  demoPid: number;
  servicePid?: number;
  configPath: string;
  startedAt: string;
}

function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes what earlier demo runs left behind (topics, consumer groups, Redis keys, the run directory)
 * once they have ended; a run whose demo process is still alive is left alone. A service whose demo
 * died without stopping it (SIGKILL) is stopped, after checking its command line names that run's
 * config, so that a recycled pid is never signalled.
 */
export async function cleanPreviousRuns(
  demoDir: string,
  currentRunId: string,
  admin: Admin,
  config: FinsentryConfig,
  logger: Logger,
  say: (line: string) => void,
): Promise<void> {
  if (!existsSync(demoDir)) return;
  const ended: RunState[] = [];
  for (const entry of readdirSync(demoDir)) {
    if (entry === currentRunId) continue;
    const dir = path.join(demoDir, entry);
    let s: RunState;
    try {
      s = JSON.parse(readFileSync(path.join(dir, 'demo.json'), 'utf8')) as RunState;
    } catch {
      continue; // not a run directory the demo wrote
    }
    if (pidAlive(s.demoPid)) continue;
    if (s.servicePid && pidAlive(s.servicePid)) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${s.servicePid}/cmdline`, 'utf8');
      } catch {
        // no /proc (not Linux): leave it running rather than guess
      }
      if (cmdline.includes(s.configPath)) process.kill(s.servicePid, 'SIGTERM');
      else if (cmdline === '') continue;
    }
    ended.push(s);
  }
  if (ended.length === 0) return;
  const redis = createRedisClient(config.redis);
  try {
    const existing = new Set(await admin.listTopics());
    for (const s of ended) {
      const n = demoNames(s.runId);
      const topics = Object.values(n.topics).filter((topic) => existing.has(topic));
      if (topics.length > 0) await admin.deleteTopics({ topics });
      await admin.deleteGroups([n.groupId, `${n.groupId}-watch`]).catch(() => undefined);
      await new RedisWindowStore(redis, windowStoreOptions(config, n.keyPrefix)).deleteAll();
      rmSync(path.join(demoDir, s.runId), { recursive: true, force: true });
      logger.info({ runId: s.runId, topics }, 'cleaned up an earlier demo run');
    }
    say(
      `cleaned up ${ended.length} earlier demo run(s): their topics, consumer groups and Redis keys (--keep-previous keeps them)`,
    );
  } catch (err) {
    logger.warn({ err }, 'cleaning up earlier demo runs failed');
    say(`could not clean up earlier demo runs: ${(err as Error).message}`);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
