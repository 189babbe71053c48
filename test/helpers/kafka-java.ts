// Kafka's own Java tools, from the jars scripts/stack/stack.sh caches in .stack/kafka/libs: the
// reference client where kafkajs falls short (read_committed), and the admin tools tests need for
// private brokers (storage format with SCRAM users, kafka-configs).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import { committedOffsets, highWatermarks } from './avro-producer.js';
import { uniqueName, waitFor } from './stack.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Directory of the Kafka jars (the stack's cache). */
export function kafkaLibsDir(): string {
  const stackDir = process.env.FINSENTRY_STACK_DIR ?? path.join(repoRoot, '.stack');
  const libs = path.join(stackDir, 'kafka', 'libs');
  if (!existsSync(libs))
    throw new Error(
      `Kafka jars not found in ${libs}: run "bash scripts/stack/stack.sh up" once to fetch them`,
    );
  return libs;
}

let toolsLog4j: string | null = null;
/** log4j 1 config for tools: warnings and errors on stderr only. */
function toolsLog4jFile(): string {
  if (toolsLog4j) return toolsLog4j;
  const file = path.join(tmpdir(), `finsentry-tools-log4j-${process.pid}.properties`);
  writeFileSync(
    file,
    [
      'log4j.rootLogger=WARN, stderr',
      'log4j.appender.stderr=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stderr.Target=System.err',
      'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n',
      '',
    ].join('\n'),
  );
  toolsLog4j = file;
  return file;
}

export interface JavaResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface JavaProcess {
  child: ChildProcess;
  /** Resolves when the JVM exits (or is killed at `timeoutMs`). */
  done: Promise<JavaResult>;
}

/** Starts `mainClass` on the Kafka classpath. */
export function startKafkaJava(
  mainClass: string,
  args: string[],
  options: { timeoutMs?: number; jvmOptions?: string[] } = {},
): JavaProcess {
  const child = spawn(
    'java',
    [
      '-Xmx256m',
      '-XX:TieredStopAtLevel=1', // short-lived tools: skip the optimising JIT, start faster
      `-Dlog4j.configuration=file:${toolsLog4jFile()}`,
      ...(options.jvmOptions ?? []),
      '-cp',
      `${kafkaLibsDir()}/*`,
      mainClass,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const done = new Promise<JavaResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done };
}

/** Runs `mainClass` on the Kafka classpath to completion. */
export function runKafkaJava(
  mainClass: string,
  args: string[],
  options: { timeoutMs?: number; jvmOptions?: string[] } = {},
): Promise<JavaResult> {
  return startKafkaJava(mainClass, args, options).done;
}

export interface KeyedRecord {
  partition: number;
  offset: bigint;
  key: string;
}

/**
 * Keys of every record of `topic` up to its high watermark at call time, as a Java consumer with
 * isolation.level=read_committed returns them (kafka-console-consumer). Used because kafkajs 2.2.4's
 * read_committed filter lets aborted records through when aborted transactions of several producers
 * interleave in a partition (it expects the broker's aborted-transaction list in first-offset order;
 * the broker sends it in marker order).
 *
 * The end is found without timing assumptions: the tool's consumer group commits its position every
 * 250 ms, and once that position has reached every partition's high watermark — a read_committed
 * consumer's position moves past transaction markers but never past an open transaction — the tool
 * is stopped. A transaction left open therefore shows up as this call timing out.
 */
export async function readCommittedKeys(
  kafka: Kafka,
  brokers: string[],
  topic: string,
  timeoutMs = 120_000,
): Promise<KeyedRecord[]> {
  const high = await highWatermarks(kafka, topic);
  const group = uniqueName('java-read-committed');
  const tool = startKafkaJava(
    'org.apache.kafka.tools.consumer.ConsoleConsumer',
    [
      '--bootstrap-server',
      brokers.join(','),
      '--topic',
      topic,
      '--group',
      group,
      '--from-beginning',
      '--isolation-level',
      'read_committed',
      '--consumer-property',
      'auto.commit.interval.ms=250',
      '--property',
      'print.key=true',
      '--property',
      'print.value=false',
      '--property',
      'print.partition=true',
      '--property',
      'print.offset=true',
    ],
    { timeoutMs: timeoutMs + 30_000 },
  );
  let exited = false;
  void tool.done.then(() => (exited = true));
  try {
    await waitFor(
      async () => {
        if (exited) throw new Error('kafka-console-consumer exited early');
        const committed = await committedOffsets(kafka, group, topic);
        return [...high].every(([partition, hw]) => hw === 0n || (committed.get(partition) ?? -1n) >= hw);
      },
      timeoutMs,
      250,
    );
  } catch (err) {
    tool.child.kill('SIGKILL');
    const result = await tool.done;
    throw new Error(
      `kafka-console-consumer (read_committed) did not reach the end of ${topic}: ${(err as Error).message}\n${result.stderr.slice(-2000)}`,
      { cause: err },
    );
  }
  tool.child.kill('SIGTERM'); // its shutdown hook flushes and reports the record count
  const result = await tool.done;
  const records: KeyedRecord[] = [];
  for (const line of result.stdout.split('\n')) {
    const match = /^Partition:(\d+)\tOffset:(\d+)\t(.*)$/.exec(line);
    if (match) records.push({ partition: Number(match[1]), offset: BigInt(match[2]!), key: match[3]! });
  }
  const processed = /Processed a total of (\d+) messages/.exec(result.stderr);
  if (!processed || Number(processed[1]) !== records.length)
    throw new Error(
      `kafka-console-consumer: parsed ${records.length} records, tool reports ${processed?.[1] ?? 'nothing'}: ${result.stderr.slice(-1000)}`,
    );
  return records.filter((r) => r.offset < (high.get(r.partition) ?? 0n));
}
