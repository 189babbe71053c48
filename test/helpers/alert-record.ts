import type { AlertRecord } from '../../src/alerts/state-machine.js';

/** A firing alert record, for tests of the alert state stores (Redis and in-memory) and their fencing. */
export const FIRING_RECORD: AlertRecord = {
  fingerprint: 'f1',
  rule: 'R',
  severity: 'warning',
  dimension: 'issuer',
  group: 'acme',
  state: 'firing',
  value: 0.9,
  threshold: 0.5,
  windowMs: 300_000,
  sampleSize: 40,
  pValue: null,
  activeSinceMs: 1,
  startedAtMs: 2,
  endedAtMs: null,
  changedAtMs: 2,
  summary: 's',
  runbookUrl: '',
};
