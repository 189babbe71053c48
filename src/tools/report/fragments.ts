/**
 * Entity values that are not names of issuers but fragments the NER model cut out of them or tagged
 * by mistake: one or two characters ("n", "y", "co"), digits and punctuation only, or a stop word.
 * The report leaves them out of entity dimensions' groups and says how many it left out.
 */
const STOP_WORDS = new Set([
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'by',
  'for',
  'from',
  'has',
  'in',
  'inc',
  'is',
  'it',
  'its',
  'ltd',
  'of',
  'on',
  'or',
  'plc',
  'the',
  'to',
  'was',
  'were',
  'will',
  'with',
  'corp',
  'group',
  'llc',
  'says',
  'said',
  'new',
  'shares',
  'stock',
  'bank',
]);

export function isEntityFragment(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v.length <= 2) return true;
  if (!/\p{L}/u.test(v)) return true;
  return STOP_WORDS.has(v);
}
