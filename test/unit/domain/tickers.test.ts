import { describe, expect, it } from 'vitest';
import { aShareExchange, canonicalTicker, extractTickers } from '../../../src/domain/tickers.js';

describe('canonical tickers', () => {
  it('rewrites every Chinese form of one code to CODE.EXCHANGE, keeps other tickers upper-cased', () => {
    for (const raw of ['600519.SH', '600519.ss', ' 600519.XSHG ', 'SH600519', 'sh600519'])
      expect(canonicalTicker(raw), raw).toBe('600519.SH');
    for (const raw of ['000001.SZ', '000001.XSHE', 'SZ000001'])
      expect(canonicalTicker(raw), raw).toBe('000001.SZ');
    for (const raw of ['0700.HK', '00700.HK', 'HK00700', 'hk00700'])
      expect(canonicalTicker(raw), raw).toBe('0700.HK');
    expect(canonicalTicker('BJ430047')).toBe('430047.BJ');
    expect(canonicalTicker(' nwec ')).toBe('NWEC');
    expect(canonicalTicker('BRK.B')).toBe('BRK.B');
    // Not a code form: kept as sent.
    expect(canonicalTicker('600519')).toBe('600519');
  });

  it('infers the A-share exchange from the code prefix, nothing for other numbers', () => {
    expect(aShareExchange('600519')).toBe('SH');
    expect(aShareExchange('688981')).toBe('SH');
    expect(aShareExchange('000001')).toBe('SZ');
    expect(aShareExchange('300750')).toBe('SZ');
    expect(aShareExchange('430047')).toBe('BJ');
    expect(aShareExchange('100000')).toBeUndefined();
    expect(aShareExchange('70000')).toBeUndefined();
  });
});

describe('tickers from text', () => {
  it('reads the forms news and 股吧/雪球 chat write codes in, canonical and in order', () => {
    expect(extractTickers('$600519 又跌停了，割肉了😭')).toEqual(['600519.SH']);
    expect(extractTickers('$贵州茅台(SH600519)$ 涨停了！🚀')).toEqual(['600519.SH']);
    expect(extractTickers('$腾讯控股(00700)$ 什么时候出年报？')).toEqual(['0700.HK']);
    expect(extractTickers('贵州茅台（600519.SH）3月14日晚间公告称，公司营收增长')).toEqual(['600519.SH']);
    expect(extractTickers('关注一下sz000001和00700.HK，还有 0941.HK')).toEqual([
      '000001.SZ',
      '0700.HK',
      '0941.HK',
    ]);
    expect(extractTickers('https://example.test/S/SH600036 招行')).toEqual(['600036.SH']);
    expect(extractTickers('$NWEC down 8% after the miss, watching $BHBC')).toEqual(['NWEC', 'BHBC']);
    // One code written twice is one ticker.
    expect(extractTickers('$600519 和 600519.SH 和 SH600519')).toEqual(['600519.SH']);
  });

  it('turns no amount, date, count or price into a ticker', () => {
    const hostile = [
      '营收600519万元，同比增长12%',
      '公司净利润为300750元',
      '截至20240601，公司总股本600519股',
      '2024.06.01 公告，成交额 600519 亿',
      '报告期为2023-12-31，编号 000001号',
      'paid $300000 for the flat', // money in English text
      'fined $600,519 and $600519.50 in costs',
      'the 600519 figure is up 3%',
      'call at 0700 GMT, 07:00 local', // a four-digit time is no Hong Kong code
      '上证指数000001收涨', // a bare code without the master
      'order ABC600519X and v1.600519.SH.bak',
      '$100000 悬赏', // $ + six digits without an A-share prefix
    ];
    for (const text of hostile) expect(extractTickers(text), text).toEqual([]);
  });

  it('reads a bare code only when the security master lists it, and never one glued to a unit', () => {
    const known = new Set(['600519.SH', '0700.HK']);
    expect(extractTickers('今天600519放量大跌', { known })).toEqual(['600519.SH']);
    expect(extractTickers('（00700）午后走弱', { known })).toEqual(['0700.HK']);
    expect(extractTickers('营收600519万元', { known })).toEqual([]);
    expect(extractTickers('600519.5 点', { known })).toEqual([]);
    expect(extractTickers('2600519 and 6005190', { known })).toEqual([]);
    // Listed form only: 000001 is not in this master (it is also the Shanghai index's number).
    expect(extractTickers('上证指数000001收涨', { known })).toEqual([]);
  });

  it('keeps at most `max` tickers, the first ones named', () => {
    const text = Array.from({ length: 10 }, (_, i) => `60000${i}.SH`).join(' ');
    expect(extractTickers(text, { max: 3 })).toEqual(['600000.SH', '600001.SH', '600002.SH']);
  });
});
