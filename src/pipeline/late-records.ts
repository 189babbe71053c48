import type { RefusedRecord } from '../domain/windows.js';
import type { OutRecord } from '../io/kafka/types.js';

/**
 * Records the window store refused (src/stats/event-time.ts: `late` behind the partition's watermark,
 * `future` too far ahead of its event clock) go to the late-records topic (kafka.topics.late) — the
 * enriched record as on the enriched topic, plus why — so that nothing the windows left out is lost
 * silently (docs/guarantees.md#event-time, as Flink's side output for late data).
 */

export const LATE_REASON_HEADER = 'finsentry-late-reason';
export const LATE_SOURCE_HEADER = 'finsentry-source';
export const LATE_CLOCK_HEADER = 'finsentry-event-clock';

/**
 * The late-topic records for a batch's refused observations: `enriched` are the batch's enriched
 * records with the input offset each was built from; refused records are matched by offset.
 */
export function lateRecords(
  refused: readonly RefusedRecord[],
  enriched: ReadonlyArray<{ offset: string; record: OutRecord }>,
  source: { topic: string; partition: number; eventClockMs: number },
): OutRecord[] {
  if (refused.length === 0) return [];
  const byOffset = new Map(enriched.map((e) => [e.offset, e.record]));
  const out: OutRecord[] = [];
  for (const r of refused) {
    const record = r.offset === undefined ? undefined : byOffset.get(r.offset);
    if (!record) continue;
    out.push({
      key: record.key,
      value: record.value,
      headers: {
        ...(record.headers ?? {}),
        [LATE_REASON_HEADER]: r.reason,
        [LATE_SOURCE_HEADER]: `${source.topic}:${source.partition}:${r.offset}`,
        [LATE_CLOCK_HEADER]: String(source.eventClockMs),
      },
    });
  }
  return out;
}
