import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { liveObservationBuilder, loadIssuerMaster } from '../../../src/app/observations.js';
import { parseConfig } from '../../../src/config/load.js';
import type { InputDocument } from '../../../src/domain/documents.js';
import type { ScoredEnrichment } from '../../../src/domain/enrichment.js';
import { scoredEnrichment } from '../../helpers/news-traffic.js';

/** The service's observation builder from config (src/app/observations.ts): security master and story ids. */

const dir = mkdtempSync(join(tmpdir(), 'fs-issuers-'));
const file = join(dir, 'issuers.csv');
writeFileSync(
  file,
  'id,name,aliases,tickers,region\nnwec,Northwind Energy Corp,Northwind,NWEC,amer\nbhbc,Bluehaven Bancorp,,BHBC,amer\n',
);

function document(
  id: string,
  tickers: string[],
  orgs: string[],
  text: string,
): [InputDocument, ScoredEnrichment] {
  return [
    {
      id,
      kind: 'news',
      eventTimeMs: Date.UTC(2026, 0, 5),
      text,
      attributes: { language: 'en', tickers, source: 'wire-a' },
      position: { topic: 'news.raw', partition: 0, offset: '1' },
      key: null,
      headers: {},
    },
    scoredEnrichment('negative', 0.8, orgs),
  ];
}

const issuerGroups = (o: { groups: Array<{ dimension: string; value: string }> } | null) =>
  o!.groups.filter((g) => g.dimension === 'issuer').map((g) => g.value);

describe('live observation builder', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves tickers, names and aliases to the issuer id; fragments and exchanges form no group', () => {
    const build = liveObservationBuilder(parseConfig({ stats: { issuers: { file } } }, {}));
    const text = 'Northwind cuts guidance';
    const a = build(...document('a', ['NWEC'], ['Northwind Energy Corp', 'board', 'NYSE'], text));
    const b = build(...document('b', [], ['northwind', 'Acme Unknown Ltd'], `${text}!`));
    expect(issuerGroups(a)).toEqual(['nwec']);
    expect(issuerGroups(b)).toEqual(['nwec']);
    // One story: b is a verbatim copy (punctuation aside), so it carries a's story id.
    expect([a!.storyId, b!.storyId]).toEqual(['a', 'a']);
  });

  it('groups ORG spans as before without a file, and gives chat no story', () => {
    const build = liveObservationBuilder(parseConfig({}, {}));
    const [doc, enrichment] = document('c', ['NWEC'], ['Northwind Energy Corp'], 'text');
    expect(issuerGroups(build(doc, enrichment))).toEqual(['northwind energy corp']);
    expect(build({ ...doc, kind: 'chat' }, enrichment)!.storyId).toBeUndefined();
  });

  it('refuses a missing file and an issuer dimension stats.dimensions lacks, naming them', () => {
    expect(() =>
      loadIssuerMaster(parseConfig({ stats: { issuers: { file: join(dir, 'none.csv') } } }, {})),
    ).toThrow(/stats\.issuers\.file .*none\.csv/);
    expect(() =>
      loadIssuerMaster(parseConfig({ stats: { issuers: { file, dimension: 'company' } } }, {})),
    ).toThrow(/stats\.issuers\.dimension "company"/);
  });
});
