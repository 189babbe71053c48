import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { LabelRecord } from '../../codec/records.js';
import { encodeLabel, encodeRecord, withSchemaDefaults, type ScenarioSchemaIds } from './encoding.js';
import type { ScenarioTopic } from './ground-truth.js';
import type { ScenarioMessage } from './generate.js';

/**
 * Recorded traffic, one JSON object per line (what `replay --dry-run --out` writes and `replay --file`
 * reads):
 *   {"topic":"news"|"chat", "key":"…"|null, "value":"<base64>", "headers":{"name":"value"}, "eventTimeMs":…}
 * or, instead of "value", "record": the NewsArticle/ChatMessage as JSON (encoded with the contract
 * schema on replay; "framing":"confluent" with a schema id known from codec.schemaIds, else plain).
 * `topic` is the logical input (news/chat), mapped to the configured Kafka topic on replay. Written
 * lines also carry "id" for reference; the intended sentiment is never written here (it is in the
 * truth file).
 */
const recordedLine = z
  .object({
    topic: z.enum(['news', 'chat', 'labels']),
    key: z.string().nullable().optional(),
    value: z.string().optional(),
    record: z.record(z.string(), z.unknown()).optional(),
    framing: z.enum(['plain', 'confluent']).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    eventTimeMs: z.number().optional(),
    id: z.string().optional(),
  })
  .refine(
    (l) => (l.value === undefined) !== (l.record === undefined),
    'give exactly one of "value" (base64) or "record" (JSON)',
  );
export type RecordedLine = z.infer<typeof recordedLine>;

/** The message ready to produce: topic is still logical. */
export interface ReplayMessage {
  topic: ScenarioTopic;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
  eventTimeMs?: number;
}

export function toRecordedLine(m: ScenarioMessage): string {
  const line: RecordedLine = {
    topic: m.topic,
    key: m.key,
    value: m.value.toString('base64'),
    headers: m.headers,
    eventTimeMs: m.eventTimeMs,
    id: m.id,
  };
  return JSON.stringify(line);
}

export function parseRecordedLine(
  text: string,
  lineNumber: number,
  schemaIds: ScenarioSchemaIds,
): ReplayMessage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`line ${lineNumber}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = recordedLine.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`line ${lineNumber}: ${issue.path.join('.') || '(line)'}: ${issue.message}`);
  }
  const l = parsed.data;
  let value: Buffer;
  if (l.value !== undefined) {
    value = Buffer.from(l.value, 'base64');
  } else {
    const topic = l.topic;
    try {
      value =
        topic === 'labels'
          ? encodeLabel({
              document_event_time: null,
              document_kind: null,
              ...l.record,
            } as unknown as LabelRecord)
          : encodeRecord(topic, withSchemaDefaults(topic, l.record!), l.framing ?? 'plain', schemaIds);
    } catch (err) {
      const schema = topic === 'news' ? 'NewsArticle' : topic === 'chat' ? 'ChatMessage' : 'Label';
      throw new Error(
        `line ${lineNumber}: record does not fit the ${schema} schema: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  const out: ReplayMessage = { topic: l.topic, key: l.key ?? null, value, headers: l.headers ?? {} };
  if (l.eventTimeMs !== undefined) out.eventTimeMs = l.eventTimeMs;
  return out;
}

/** Streams a recorded-traffic file (blank lines and lines starting with # are skipped). */
export async function* readRecordedFile(
  file: string,
  schemaIds: ScenarioSchemaIds,
): AsyncGenerator<ReplayMessage> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    yield parseRecordedLine(trimmed, n, schemaIds);
  }
}
