/**
 * Prometheus label values must stay short, printable and bounded in number. Values that come from
 * data (issuer names, sources, DLQ reasons) pass through here before they become a label.
 */

const MAX_LABEL_LENGTH = 64;

/** Printable ASCII subset, lower-cased, runs of anything else collapsed to "_", trimmed to 64 chars. */
export function sanitizeLabelValue(value: string): string {
  const cleaned = value
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9._:/@+-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, MAX_LABEL_LENGTH);
  return cleaned.length > 0 ? cleaned : 'unknown';
}

/** The label value used when a group is not one of the exported ones. */
export const OTHER_GROUP = 'other';

/**
 * Maps free-form values onto a fixed allow-list: values outside it (after sanitising) become
 * `other`, so a label fed from data can never create more than allowed.size + 1 series.
 */
export function boundedLabel(value: string, allowed: ReadonlySet<string>): string {
  const clean = sanitizeLabelValue(value);
  return allowed.has(clean) ? clean : OTHER_GROUP;
}
