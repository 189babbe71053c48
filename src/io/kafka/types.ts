// The record contract lives in src/domain/records.ts (the codec and the pipeline use it without the adapter).
export type { OutRecord, RawRecord } from '../../domain/records.js';
export { normaliseHeaders } from '../../domain/records.js';
