import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatIssuerCsv, IssuerResolver, parseIssuerCsv } from '../../../src/stats/issuer-master.js';
import { selectUniverse } from '../../../src/tools/scenarios/generate.js';
import { ISSUERS, universeIssuerMaster } from '../../../src/tools/scenarios/universe.js';
import { CHINESE_ISSUERS } from '../../../src/tools/scenarios/universe-zh.js';

describe('issuer master', () => {
  const entries = parseIssuerCsv(readFileSync('config/issuers.example.csv', 'utf8'), 'issuers.example.csv');
  const resolver = new IssuerResolver(entries);

  it('ships the scenario universe as the example master', () => {
    expect(entries).toHaveLength(ISSUERS.length + CHINESE_ISSUERS.length);
    expect(entries).toEqual(universeIssuerMaster([...ISSUERS, ...CHINESE_ISSUERS]));
  });

  it('resolves a Chinese issuer by its name, nickname, English name and canonical code', () => {
    for (const m of ['贵州茅台', '茅台', 'Kweichow Moutai', '600519.SH', '600519.sh'])
      expect(resolver.resolve(m), m).toEqual({ kind: 'issuer', id: '600519.sh' });
    expect(resolver.resolve('腾讯')).toEqual({ kind: 'issuer', id: '0700.hk' });
    expect(resolver.resolveDocument(['0700.HK'], ['腾讯控股', '鹅厂']).issuers).toEqual(['0700.hk']);
    // 平安银行 and 中国平安 stay two issuers.
    expect(resolver.resolve('平安银行')).toEqual({ kind: 'issuer', id: '000001.sz' });
    expect(resolver.resolve('中国平安')).toEqual({ kind: 'issuer', id: '601318.sh' });
  });

  it('resolves the ticker, cashtag, full name, name without legal form and short name of one issuer to one id', () => {
    for (const m of [
      'NWEC',
      '$NWEC',
      'nwec',
      'Northwind Energy Corp',
      'northwind energy corp.',
      'Northwind Energy',
      'Northwind',
    ])
      expect(resolver.resolve(m)).toEqual({ kind: 'issuer', id: 'nwec' });
  });

  it('never makes fragments, stop words, exchanges or the product an issuer; other ORGs stay unresolved', () => {
    expect(resolver.resolve('n')).toEqual({ kind: 'ignored', reason: 'fragment' });
    expect(resolver.resolve('y')).toEqual({ kind: 'ignored', reason: 'fragment' });
    expect(resolver.resolve('board')).toEqual({ kind: 'ignored', reason: 'stop-word' });
    expect(resolver.resolve('board of')).toEqual({ kind: 'ignored', reason: 'stop-word' });
    expect(resolver.resolve('Tokyo Stock Exchange')).toEqual({ kind: 'ignored', reason: 'exchange' });
    expect(resolver.resolve('FinSentry')).toEqual({ kind: 'ignored', reason: 'configured' });
    expect(new IssuerResolver(entries, { ignore: ['Acme Desk'] }).resolve('acme desk').kind).toBe('ignored');
    expect(resolver.resolve('Harrington Securities')).toEqual({
      kind: 'unresolved',
      mention: 'harrington securities',
    });
  });

  it('resolves a document to its distinct issuers, with unresolved ORG mentions apart', () => {
    expect(
      resolver.resolveDocument(
        ['NWEC'],
        ['Northwind Energy Corp', 'n', 'Harrington Securities', 'New York Stock Exchange'],
      ),
    ).toEqual({ issuers: ['nwec'], unresolved: ['harrington securities'] });
  });

  it('rejects a master where one name points at two issuers, and names the line of a bad row', () => {
    expect(
      () =>
        new IssuerResolver([
          { id: 'a', name: 'Alpha Corp', aliases: [], tickers: ['ALP'], region: 'amer' },
          { id: 'b', name: 'Alpha Inc', aliases: [], tickers: ['ALB'], region: 'amer' },
        ]),
    ).toThrow(/"alpha" names both a and b/);
    expect(() => parseIssuerCsv('id,name,aliases,tickers,region\n,NoId,,,amer\n', 'x.csv')).toThrow(
      /x.csv:2/,
    );
    expect(() => parseIssuerCsv('id,name\n', 'x.csv')).toThrow(/lacks aliases, tickers, region/);
  });

  it('round-trips through CSV, quotes included, and indexes a 500-issuer universe', () => {
    const tricky = [{ id: 'q', name: 'Quote "Q", Ltd', aliases: ['Q|Co'], tickers: ['QQ'], region: 'emea' }];
    expect(parseIssuerCsv(formatIssuerCsv(tricky))).toEqual([
      { id: 'q', name: 'Quote "Q", Ltd', aliases: ['Q', 'Co'], tickers: ['QQ'], region: 'emea' },
    ]);
    const big = new IssuerResolver(universeIssuerMaster(selectUniverse(500)));
    expect(big.issuers.size).toBe(500);
  });
});
