import { SeededRandom } from './random.js';

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/** Frequent English and market words so that synthetic text tokenizes into whole words. */
const BASE_WORDS = (
  'the of and to in a is that for on with as by at from it be are was this an has have will not or its but ' +
  'said company market shares stock price prices percent year quarter profit profits loss losses revenue ' +
  'sales growth bank banks rate rates inflation fed central earnings results guidance investors analysts ' +
  'trading trade up down rose fell rise fall high low record strong weak beat missed expected forecast ' +
  'billion million dollar euro yen bond bonds yield yields oil gold energy tech inc corp ltd group plc ' +
  'ceo cfo chief executive officer said says new york london tokyo paris berlin china europe us uk ' +
  'apple microsoft tesla amazon google meta nvidia goldman sachs morgan jpmorgan citi barclays hsbc ' +
  'buy sell hold upgrade downgrade outlook risk risks debt default merger acquisition deal deals ipo ' +
  'dividend cut cuts raise raised lower higher than after before during week month today yesterday'
).split(/\s+/);

/**
 * A valid BERT WordPiece tokenizer.json (uncased: BertNormalizer lowercase, BertPreTokenizer,
 * [CLS] … [SEP] template) with exactly `vocabSize` entries: the special tokens, printable ASCII
 * and Latin-1 letters with their "##" continuations, common words, then seeded random word pieces.
 */
export function buildWordPieceTokenizer(vocabSize: number, seed: number): Record<string, unknown> {
  const vocab = new Map<string, number>();
  const add = (token: string): void => {
    if (vocab.size < vocabSize && !vocab.has(token)) vocab.set(token, vocab.size);
  };
  SPECIAL_TOKENS.forEach(add);
  const chars: string[] = [];
  for (let c = 0x21; c < 0x7f; c++) chars.push(String.fromCharCode(c));
  for (let c = 0xdf; c <= 0xff; c++) if (c !== 0xf7) chars.push(String.fromCharCode(c));
  chars.forEach(add);
  chars.filter((c) => /[a-z0-9]/.test(c)).forEach((c) => add(`##${c}`));
  if (vocab.size < SPECIAL_TOKENS.length + 36)
    throw new Error(`vocab size ${vocabSize} is too small (minimum ${SPECIAL_TOKENS.length + 200})`);
  BASE_WORDS.forEach(add);
  const random = new SeededRandom(seed ^ 0x5eed);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const syllable = (): string => {
    const consonants = 'bcdfghjklmnprstvwz';
    const vowels = 'aeiou';
    return (consonants[random.int(consonants.length)] ?? 'b') + (vowels[random.int(vowels.length)] ?? 'a');
  };
  let guard = 0;
  while (vocab.size < vocabSize && guard++ < vocabSize * 20) {
    const pieces = 1 + random.int(3);
    let word = '';
    for (let i = 0; i < pieces; i++) word += syllable();
    if (random.next() < 0.3) word += letters[random.int(letters.length)] ?? '';
    add(random.next() < 0.5 ? word : `##${word}`);
  }
  if (vocab.size < vocabSize) throw new Error(`could not generate ${vocabSize} distinct word pieces`);

  const special = (content: string) => ({
    id: vocab.get(content),
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map(special),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [vocab.get('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [vocab.get('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab),
    },
  };
}
