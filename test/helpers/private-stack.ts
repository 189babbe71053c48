// Private Kafka and Redis servers for fault tests that stop and restart servers: started by the
// project's own scripts/stack/stack.sh with free ports and a throwaway state directory, so that
// stopping them never disturbs the shared stack (9092/6379) that other tests use at the same time.
// Kafka reuses the jars the shared stack cached (.stack/kafka/libs); Redis runs with an append-only
// file so that a stopped and restarted Redis keeps its data, as a production Redis with persistence.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { createTopicsOn } from './stack.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const stackScript = path.join(repoRoot, 'scripts/stack/stack.sh');

export type StackComponent = 'kafka' | 'redis';

/** A TCP port nothing listens on right now (the kernel's pick; released before use). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A private server that exited before it was ready: most often a port taken between freePort and bind. */
export class ServerExitedEarly extends Error {}

/** Starts a private server, on fresh ports again when it exits before it is ready (`attempts` in all). */
export async function startOnFreshPorts<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof ServerExitedEarly) || attempt >= attempts) throw err;
    }
  }
}

export class PrivateStack {
  private constructor(
    readonly dir: string,
    readonly kafkaPort: number,
    readonly controllerPort: number,
    readonly redisPort: number,
    readonly components: readonly StackComponent[],
  ) {}

  /** Starts the named components (both by default) on free ports; `stop()` in afterAll. */
  static async start(components: readonly StackComponent[] = ['kafka', 'redis']): Promise<PrivateStack> {
    const dir = mkdtempSync(path.join(tmpdir(), 'fs-private-stack-'));
    const stack = new PrivateStack(dir, await freePort(), await freePort(), await freePort(), components);
    try {
      await stack.script(['up', ...components]);
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  get kafkaBrokers(): string[] {
    return [`127.0.0.1:${this.kafkaPort}`];
  }

  get redisUrl(): string {
    return `redis://127.0.0.1:${this.redisPort}`;
  }

  /** A kafkajs client for the private broker (the shared helpers' clients point at the shared one). */
  kafka(clientId = 'finsentry-fault-test'): Kafka {
    return new Kafka({ clientId, brokers: this.kafkaBrokers, logLevel: logLevel.NOTHING });
  }

  /** Creates topics on the private broker and waits for their leaders. */
  async createTopics(names: readonly string[], partitions = 4): Promise<void> {
    await createTopicsOn(this.kafka('finsentry-fault-admin'), names, partitions);
  }

  /**
   * SIGKILL of a server (a crash: no controlled shutdown, no flush); `up` starts it again. Waits
   * until the process is gone.
   */
  async crash(component: StackComponent): Promise<void> {
    const pidFile =
      component === 'kafka'
        ? path.join(this.dir, 'kafka/kafka.pid')
        : path.join(this.dir, `redis/${this.redisPort}/redis.pid`);
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Sends a signal to a server process: SIGSTOP freezes it (a hung server: connections stay open, nothing answers), SIGCONT resumes it. */
  signal(component: StackComponent, signal: 'SIGSTOP' | 'SIGCONT'): void {
    const pidFile =
      component === 'kafka'
        ? path.join(this.dir, 'kafka/kafka.pid')
        : path.join(this.dir, `redis/${this.redisPort}/redis.pid`);
    process.kill(Number(readFileSync(pidFile, 'utf8').trim()), signal);
  }

  /** Graceful stop of one server (SIGTERM, waits until the process is gone). */
  async down(component: StackComponent): Promise<void> {
    await this.script(['down', component]);
  }

  /** Starts a stopped server again; resolves once it answers (Kafka: metadata requests). */
  async up(component: StackComponent): Promise<void> {
    await this.script(['up', component]);
  }

  /** Stops every server of this stack and deletes its state directory. */
  async stop(): Promise<void> {
    try {
      if (existsSync(this.dir)) await this.script(['down', ...this.components]);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private script(args: string[]): Promise<void> {
    const env = {
      ...process.env,
      FINSENTRY_STACK_DIR: this.dir,
      FINSENTRY_KAFKA_PORT: String(this.kafkaPort),
      FINSENTRY_KAFKA_CONTROLLER_PORT: String(this.controllerPort),
      FINSENTRY_KAFKA_LIBS: path.join(repoRoot, '.stack/kafka/libs'),
      // A second broker JVM on a 2-core CI machine: a smaller heap than the shared one's 768 MiB.
      FINSENTRY_KAFKA_HEAP: '-Xmx384m -Xms128m',
      FINSENTRY_REDIS_PORT: String(this.redisPort),
      FINSENTRY_REDIS_APPENDONLY: 'yes',
    };
    return new Promise((resolve, reject) => {
      const child = spawn('bash', [stackScript, ...args], {
        cwd: repoRoot,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.once('error', reject);
      child.once('exit', (code) => {
        if (code === 0) resolve();
        else reject(new Error(`stack.sh ${args.join(' ')} exited ${String(code)}:\n${output}`));
      });
    });
  }
}
