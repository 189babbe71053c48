import type { SentimentLabel } from '../../domain/enrichment.js';

/**
 * Sentence templates for synthetic news and chat, written for finsentry. They imitate the phrasing of
 * the data the sentiment model is trained on (Financial PhraseBank: "Net sales increased by 18.5 %…",
 * "Operating loss totalled…"; Twitter financial news: "$XYZ shares fall after…"), so that the model's
 * label agrees with the intended label ("truth") for the vast majority of texts. Checked against the
 * committed default sentiment model (test/integration/scenarios.test.ts): a template the model reads
 * the other way ("ripping", "margins narrowed", "costs soar" were) shows up as a false gap between
 * the groups that use it (chat vs news wires) as soon as there are enough documents.
 *
 * Slots: {name} {short} {ticker} {pct} {amount} {amount2} {cur} {broker} {person} {date} {quarter}
 * {city} {exchange} {n} {n2} {price} {url} {client} {year} {time} {ticker2}.
 */
export type TemplateSet = Readonly<Record<SentimentLabel, readonly string[]>>;

export const HEADLINES: TemplateSet = {
  negative: [
    '{name} shares fall {pct}% after weak quarterly results',
    '{name} cuts full-year guidance as demand slows',
    '{name} misses profit estimates, shares slide',
    '{name} to cut {n} jobs as sales decline',
    '{name} swings to quarterly loss on rising costs',
    '{name} downgraded to sell at {broker}, shares drop {pct}%',
    'Regulator fines {name} {cur} {amount} million over reporting failures',
    '{name} warns of lower margins, stock tumbles {pct}%',
    '{name} suspends dividend after profit plunge',
    '{name} operating profit falls {pct}% to {cur} {amount} million',
    '{name} net sales decrease {pct}% on weak demand',
    '{name} shares plunge as quarterly revenue disappoints',
  ],
  neutral: [
    '{name} to hold annual general meeting on {date}',
    '{name} to report {quarter} results on {date}',
    '{name} appoints {person} as chief financial officer',
    '{name} to present at investor conference in {city} on {date}',
    '{name} publishes annual report for fiscal {year}',
    '{name} board to meet on {date}',
    '{name} names {person} head of investor relations',
    '{name} announces date of capital markets day',
    '{name} files quarterly report with {exchange}',
    '{name} sets record date for shareholder meeting',
  ],
  positive: [
    '{name} beats estimates, raises full-year guidance',
    '{name} shares jump {pct}% after record quarterly profit',
    '{name} net sales rise {pct}% to {cur} {amount} million',
    '{name} upgraded to buy at {broker}, price target raised',
    '{name} shares rise after winning {cur} {amount} million contract from {client}',
    '{name} raises dividend as earnings beat forecasts',
    '{name} operating profit rises {pct}% on strong demand',
    '{name} shares rally after upbeat outlook',
    '{name} posts record revenue, lifts profit forecast',
    '{name} order intake grows {pct}%, shares climb',
  ],
};

export const BODY_SENTENCES: TemplateSet = {
  negative: [
    'Net sales decreased by {pct}% to {cur} {amount} million.',
    'Operating loss totalled {cur} {amount} million, compared with a profit of {cur} {amount2} million a year earlier.',
    'The company said weaker demand weighed heavily on results in the quarter.',
    'Analysts at {broker} cut their price target on the stock to {price}.',
    '{short} now expects full-year revenue to decline.',
    'Shares of {short} were down {pct}% in afternoon trading.',
    'The company will reduce its workforce by {n} employees.',
    'Profit margins fell sharply as input costs rose.',
    'Pre-tax profit fell to {cur} {amount} million from {cur} {amount2} million.',
    'Earnings per share dropped to {cur} 0.{n} from {cur} 1.{n2}.',
    'The company lowered its outlook for the rest of the year, citing falling orders.',
    '{short} reported a net loss of {cur} {amount} million for the period.',
  ],
  neutral: [
    '{short} is headquartered in {city}.',
    'The company operates in {n} countries.',
    'The results will be published on {date}.',
    'The annual general meeting will be held in {city} on {date}.',
    "The company's shares are listed on the {exchange} under the ticker {ticker}.",
    'A conference call for analysts and investors will be held at {time} local time.',
    'The transaction is subject to approval by the competition authorities.',
    'Further details of the agreement were not disclosed.',
    'The report covers the period from January to {month}.',
    '{person} will take up the position on {date}.',
    'The company will publish its interim report for the {quarter} on {date}.',
    'The board of directors will propose the agenda to the annual general meeting.',
  ],
  positive: [
    'Net sales increased by {pct}% to {cur} {amount} million.',
    'Operating profit rose to {cur} {amount} million from {cur} {amount2} million.',
    'Order intake grew by {pct}% year on year.',
    '{short} raised its full-year outlook on strong demand.',
    'Shares of {short} were up {pct}% in morning trading.',
    'Analysts at {broker} raised their price target on the stock to {price}.',
    'Earnings per share rose to {cur} 1.{n} from {cur} 0.{n2}.',
    'The company reported record sales growth in all of its regions.',
    'Pre-tax profit increased to {cur} {amount} million from {cur} {amount2} million.',
    'Margins improved as the company benefited from higher volumes.',
    '{short} said demand remained strong and its order book grew.',
    'The board proposed a higher dividend of {cur} 0.{n} per share, up from a year earlier.',
  ],
};

/**
 * Long, factual sentences (about 40-50 tokens each) used to pad long articles: neutral background
 * that pushes bodies towards the ~1,500-token range without changing their sentiment.
 */
export const LONG_BACKGROUND: readonly string[] = [
  'Founded several decades ago and headquartered in {city}, {short} operates production sites, sales offices and service centres across {n} countries, and its shares have been listed on the {exchange} since its initial public offering, where it is traded under the ticker {ticker}.',
  'The company organises its business into several reporting segments, each with its own management team, and it publishes detailed segment figures together with its interim reports, which are available on its investor relations website and are filed with the {exchange}.',
  'According to the notice sent to shareholders, the annual general meeting will be held in {city} on {date}, and shareholders who wish to attend are asked to register in advance through the company website or by contacting its registrar before the deadline stated in the notice.',
  'The agreement, which was signed in {city} on {date}, covers the supply of equipment and related maintenance services over a period of several years, and the parties have agreed not to disclose its financial terms beyond what is required by the rules of the {exchange}.',
  '{person}, who has held senior finance and operations roles at several industrial and financial companies, will report directly to the chief executive officer and will be based at the head office in {city}, the company said in a statement released on {date}.',
  'The figures in this release have not been audited, and comparisons refer to the corresponding period of the previous year unless otherwise stated, in line with the reporting practice the company has followed in its previous interim reports and in its annual report for fiscal {year}.',
];

export const CHAT_TEMPLATES: TemplateSet = {
  negative: [
    '${ticker} getting crushed today, down {pct}%',
    'dumping my ${ticker} after that awful guidance',
    '${ticker} missed again, terrible quarter',
    '${ticker} breaking support, looks really weak',
    'bearish on ${ticker}, earnings were terrible {url}',
    '${ticker} down {pct}% premarket after the downgrade',
    '{short} results were awful, ${ticker} sinking',
    '${ticker} slashing guidance and cutting jobs, avoid',
    'ugly miss from ${ticker}, shares plunging',
  ],
  neutral: [
    'anyone know when ${ticker} reports?',
    '${ticker} earnings call on {date} at {time}',
    '${ticker} annual meeting on {date} {url}',
    "what's the volume on ${ticker} today?",
    '${ticker} ex-dividend date is {date}',
    'watching ${ticker} and ${ticker2} this week',
    '{short} investor day is on {date}, details here {url}',
    '${ticker} options expire on {date}',
    'who covers ${ticker} at {broker}?',
  ],
  positive: [
    '${ticker} jumping {pct}% on the earnings beat',
    'bought more ${ticker}, the guidance raise is huge',
    '${ticker} breaking out to new highs',
    'bullish on ${ticker} after strong results {url}',
    '${ticker} upgraded to buy, target raised to {price}',
    '{short} beat estimates, ${ticker} up {pct}%',
    'great quarter from ${ticker}, record revenue',
    '${ticker} raised the dividend, love it',
    '${ticker} up {pct}% after winning a big contract',
  ],
};

/**
 * Vocabulary of the `drift` scenario: newer jargon, hashtags and emoji that the reference period never
 * contained (and that a BERT WordPiece vocabulary partly maps to [UNK]). Sentiment-neutral on purpose:
 * drift changes the inputs, not the intended labels.
 */
export const DRIFT_SENTENCES: readonly string[] = [
  'The company is piloting tokenized settlement of its commercial paper on a permissioned ledger.',
  'Management highlighted spending on generative AI inference clusters and hyperscaler partnerships.',
  'Part of its treasury is now held in regulated stablecoins, the filing shows.',
  'The update was first flagged by retail traders on social media under #{ticker}earnings.',
  'Its new loyalty programme pays rebates in digital tokens redeemable through a super-app.',
  'The firm said its carbon-credit tokenization desk went live during the period.',
];
export const DRIFT_CHAT_SUFFIXES: readonly string[] = [
  ' 🚀🚀',
  ' 📉',
  ' #fintwit',
  ' ngmi',
  ' wagmi',
  ' 🔥',
  ' #{ticker}gang',
  ' 👀',
  ' (via @quickfeed)',
];

export const CLIENTS = [
  'a national rail operator',
  'a European utility',
  'the Ministry of Defence',
  'a leading hospital group',
  'a global automaker',
  'a state-owned energy company',
] as const;

export const QUARTERS = ['first quarter', 'second quarter', 'third quarter', 'fourth quarter'] as const;
export const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;
