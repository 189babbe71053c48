// The fault suite's ledger: reads every record of the input topics, finsentry.enriched and
// finsentry.dlq back from the broker and accounts for each input record (by topic, partition and
// offset — what the enriched record's `input` field and the DLQ context headers name): enriched,
// dead-lettered, both, or lost. Duplicates (the same input enriched more than once, allowed in
// at-least-once mode) are counted, and duplicate copies must carry identical results.
import type { Kafka } from 'kafkajs';
import { decodeEnriched } from '../../src/codec/enriched.js';
import type { EnrichedDocumentRecord } from '../../src/codec/records.js';
import type { RawRecord } from '../../src/io/kafka/types.js';
import { readDeadLetterHeaders } from '../../src/pipeline/dlq.js';
import { readAll } from './avro-producer.js';

export type Coordinates = string;

export function coordinates(topic: string, partition: number, offset: string | number): Coordinates {
  return `${topic}:${partition}:${String(offset)}`;
}

export interface DeadLetterEntry {
  coordinates: Coordinates;
  key: string | null;
  reason: string | undefined;
  stage: string | undefined;
}

/** Where an input record is expected to land. */
export type Expectation = 'enriched' | 'dlq' | 'either';

export interface LedgerReport {
  /** Records on the input topics. */
  inputs: number;
  /** Distinct keys (= ids) among them; fewer than `inputs` when the test's producer retried a send. */
  inputIds: number;
  /** Records on the enriched topic. */
  outputs: number;
  /** Inputs with at least one enriched record. */
  enrichedInputs: number;
  /** Enriched records beyond the first per input (at-least-once redelivery). */
  duplicates: number;
  /** Records on the DLQ topic. */
  dlqEntries: number;
  /** Inputs with at least one DLQ record. */
  dlqInputs: number;
  /** DLQ records beyond the first per input. */
  dlqDuplicates: number;
  /** Inputs on neither topic. Must be 0. */
  losses: number;
  /** Inputs both enriched and dead-lettered. */
  inBoth: number;
  /** Inputs on the wrong one of the two topics, given the expectation. */
  misrouted: number;
  /** Output records naming no input record (must be 0). */
  strays: number;
  /** Enriched records whose id is not the input key (ids are keys in these tests). */
  idMismatches: number;
  /** Inputs whose duplicate enriched copies differ in sentiment, entities or groups. */
  inconsistentDuplicates: number;
  /** A few examples of each problem, for the failure message. */
  examples: { lost: string[]; misrouted: string[]; strays: string[]; inconsistent: string[] };
}

/** A topic read back as RawRecords. */
export async function readRecords(kafka: Kafka, topic: string, timeoutMs = 180_000): Promise<RawRecord[]> {
  return (await readAll(kafka, topic, timeoutMs)).map(({ partition, message }) => ({
    topic,
    partition,
    offset: message.offset,
    key: message.key ?? null,
    value: message.value ?? null,
    headers: message.headers ?? {},
    timestamp: message.timestamp,
  }));
}

/** The parts of an enriched record that must not differ between two deliveries of one input. */
function resultOf(record: EnrichedDocumentRecord): string {
  return JSON.stringify([
    record.id,
    record.event_time,
    record.sentiment,
    record.entities,
    record.groups,
    record.models,
  ]);
}

export class Ledger {
  /** Enriched records per input coordinates, in the order read. */
  readonly enriched = new Map<Coordinates, EnrichedDocumentRecord[]>();
  readonly dead = new Map<Coordinates, DeadLetterEntry[]>();
  private strayOutputs: string[] = [];

  private constructor(
    readonly inputs: RawRecord[],
    enriched: EnrichedDocumentRecord[],
    dead: DeadLetterEntry[],
  ) {
    const known = new Set(inputs.map((r) => coordinates(r.topic, r.partition, r.offset)));
    for (const record of enriched) {
      const at = coordinates(record.input.topic, record.input.partition, record.input.offset);
      if (!known.has(at)) this.strayOutputs.push(`enriched ${record.id} names ${at}`);
      const list = this.enriched.get(at);
      if (list) list.push(record);
      else this.enriched.set(at, [record]);
    }
    for (const entry of dead) {
      if (!known.has(entry.coordinates))
        this.strayOutputs.push(`dlq ${String(entry.key)} names ${entry.coordinates}`);
      const list = this.dead.get(entry.coordinates);
      if (list) list.push(entry);
      else this.dead.set(entry.coordinates, [entry]);
    }
  }

  /** Reads the input topics, the enriched topic and the DLQ in full. */
  static async collect(
    kafka: Kafka,
    topics: { inputs: readonly string[]; enriched: string; dlq: string },
  ): Promise<Ledger> {
    const inputs: RawRecord[] = [];
    for (const topic of topics.inputs) inputs.push(...(await readRecords(kafka, topic)));
    const enriched = (await readRecords(kafka, topics.enriched)).map((r) => decodeEnriched(r.value!));
    const dead = (await readRecords(kafka, topics.dlq)).map((r): DeadLetterEntry => {
      const context = readDeadLetterHeaders(r.headers);
      return {
        coordinates: coordinates(context.topic ?? '?', Number(context.partition), context.offset ?? '?'),
        key: r.key?.toString() ?? null,
        reason: context.reason,
        stage: context.stage,
      };
    });
    return new Ledger(inputs, enriched, dead);
  }

  /** The first enriched record of an input, if any. */
  enrichedOf(record: RawRecord): EnrichedDocumentRecord | undefined {
    return this.enriched.get(coordinates(record.topic, record.partition, record.offset))?.[0];
  }

  /** DLQ entries of an input. */
  deadOf(record: RawRecord): DeadLetterEntry[] {
    return this.dead.get(coordinates(record.topic, record.partition, record.offset)) ?? [];
  }

  /**
   * Accounts for every input; `expect` says where each should land (default: either). With
   * `idsAreKeys` (the default) an enriched record's id must equal its input's key.
   */
  report(
    expect: (input: RawRecord) => Expectation = () => 'either',
    options: { idsAreKeys?: boolean } = {},
  ): LedgerReport {
    const idsAreKeys = options.idsAreKeys ?? true;
    const report: LedgerReport = {
      inputs: this.inputs.length,
      inputIds: new Set(this.inputs.map((r) => r.key?.toString() ?? '')).size,
      outputs: 0,
      enrichedInputs: 0,
      duplicates: 0,
      dlqEntries: 0,
      dlqInputs: 0,
      dlqDuplicates: 0,
      losses: 0,
      inBoth: 0,
      misrouted: 0,
      strays: this.strayOutputs.length,
      idMismatches: 0,
      inconsistentDuplicates: 0,
      examples: { lost: [], misrouted: [], strays: this.strayOutputs.slice(0, 10), inconsistent: [] },
    };
    for (const list of this.enriched.values()) report.outputs += list.length;
    for (const list of this.dead.values()) report.dlqEntries += list.length;
    const note = (list: string[], text: string): void => {
      if (list.length < 10) list.push(text);
    };
    for (const input of this.inputs) {
      const at = coordinates(input.topic, input.partition, input.offset);
      const key = input.key?.toString() ?? null;
      const outputs = this.enriched.get(at) ?? [];
      const dead = this.dead.get(at) ?? [];
      if (outputs.length > 0) {
        report.enrichedInputs++;
        report.duplicates += outputs.length - 1;
        if (idsAreKeys && outputs.some((o) => o.id !== key)) report.idMismatches++;
        const first = resultOf(outputs[0]!);
        if (outputs.some((o) => resultOf(o) !== first)) {
          report.inconsistentDuplicates++;
          note(report.examples.inconsistent, `${String(key)} @ ${at}`);
        }
      }
      if (dead.length > 0) {
        report.dlqInputs++;
        report.dlqDuplicates += dead.length - 1;
      }
      if (outputs.length > 0 && dead.length > 0) report.inBoth++;
      if (outputs.length === 0 && dead.length === 0) {
        report.losses++;
        note(report.examples.lost, `${String(key)} @ ${at}`);
        continue;
      }
      const wanted = expect(input);
      if ((wanted === 'enriched' && outputs.length === 0) || (wanted === 'dlq' && dead.length === 0)) {
        report.misrouted++;
        note(
          report.examples.misrouted,
          `${String(key)} @ ${at}: expected ${wanted}, got ${outputs.length > 0 ? 'enriched' : `dlq (${dead[0]!.reason})`}`,
        );
      }
    }
    return report;
  }
}

export interface FaultFigures {
  fault: string;
  report: LedgerReport;
  /** Seconds from the fault's end (restart, rejoin, …) until commits advanced again; one per event. */
  recoverySeconds: number[];
  extra?: Record<string, unknown>;
}

/** One line per fault in the test output: the figures the fault suite is judged by. */
export function printFigures({ fault, report, recoverySeconds, extra }: FaultFigures): void {
  const { examples: _examples, ...counts } = report;
  const recovery = recoverySeconds.map((s) => `${s.toFixed(1)}s`).join(', ') || 'n/a';
  console.log(
    `FAULT ${fault}: inputs=${counts.inputs} (ids ${counts.inputIds}) outputs=${counts.outputs} ` +
      `duplicates=${counts.duplicates} dlq=${counts.dlqEntries} (dlq duplicates ${counts.dlqDuplicates}) ` +
      `losses=${counts.losses} misrouted=${counts.misrouted} recovery=[${recovery}]` +
      (extra ? ` ${JSON.stringify(extra)}` : ''),
  );
}

/** The invariants every fault test asserts on its ledger (losses first, as the most important). */
export function ledgerProblems(report: LedgerReport): string[] {
  const problems: string[] = [];
  if (report.losses > 0)
    problems.push(`${report.losses} inputs lost, e.g. ${report.examples.lost.join('; ')}`);
  if (report.misrouted > 0)
    problems.push(`${report.misrouted} misrouted, e.g. ${report.examples.misrouted.join('; ')}`);
  if (report.inBoth > 0) problems.push(`${report.inBoth} inputs both enriched and dead-lettered`);
  if (report.strays > 0)
    problems.push(`${report.strays} outputs naming no input, e.g. ${report.examples.strays.join('; ')}`);
  if (report.idMismatches > 0)
    problems.push(`${report.idMismatches} enriched records whose id is not the input key`);
  if (report.inconsistentDuplicates > 0)
    problems.push(
      `${report.inconsistentDuplicates} inputs whose duplicates differ, e.g. ${report.examples.inconsistent.join('; ')}`,
    );
  return problems;
}
