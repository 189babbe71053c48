import type { ChatMessageRecord, LabelRecord, NewsArticleRecord } from '../../codec/records.js';
import { contractSchemaName, schemaType } from '../../codec/schemas.js';
import { frameConfluent } from '../../codec/wire.js';
import type { InputTopic } from './ground-truth.js';

/**
 * Avro encoding of generated records with the contract schemas (schemas/*.avsc), in plain framing or
 * in the Confluent Schema Registry framing. Confluent framing needs the schema ids the consuming
 * finsentry knows (config codec.schemaIds); without them, traffic is written plain only.
 */
export interface ScenarioSchemaIds {
  news?: number;
  chat?: number;
}

export type InputRecord = NewsArticleRecord | ChatMessageRecord;

export function encodePlain(topic: InputTopic, record: InputRecord): Buffer {
  return schemaType(topic === 'news' ? 'NewsArticle' : 'ChatMessage').toBuffer(record);
}

export function encodeRecord(
  topic: InputTopic,
  record: InputRecord,
  framing: 'plain' | 'confluent',
  ids: ScenarioSchemaIds,
): Buffer {
  const body = encodePlain(topic, record);
  if (framing === 'plain') return body;
  const id = ids[topic];
  if (id === undefined)
    throw new Error(`no schema id for ${topic} records: Confluent framing needs codec.schemaIds`);
  return frameConfluent(id, body);
}

/** A Label record (labels topic), plain Avro. */
export function encodeLabel(record: LabelRecord): Buffer {
  return schemaType('Label').toBuffer(record);
}

/** The schema ids of NewsArticle and ChatMessage in a codec.schemaIds map (id → schema name or .avsc path). */
export function schemaIdsFromConfig(schemaIds: Record<string, string>): ScenarioSchemaIds {
  const out: ScenarioSchemaIds = {};
  for (const [id, ref] of Object.entries(schemaIds)) {
    const name = contractSchemaName(ref);
    if (name === 'NewsArticle' && out.news === undefined) out.news = Number(id);
    if (name === 'ChatMessage' && out.chat === undefined) out.chat = Number(id);
  }
  return out;
}

/** Fills fields missing from a hand-written JSON record with the schema defaults (tickers [], region null, …). */
export function withSchemaDefaults(topic: InputTopic, record: Record<string, unknown>): InputRecord {
  const type = schemaType(topic === 'news' ? 'NewsArticle' : 'ChatMessage') as unknown as {
    fields: Array<{ name: string; defaultValue(): unknown }>;
  };
  const out: Record<string, unknown> = { ...record };
  for (const field of type.fields) {
    if (!(field.name in out)) {
      const value = field.defaultValue();
      if (value !== undefined) out[field.name] = value;
    }
  }
  return out as unknown as InputRecord;
}
