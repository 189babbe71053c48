import type { TemplateSet } from './phrases.js';

/**
 * Chinese sentence templates for synthetic financial news (财经新闻) and 股吧/雪球-style chat, written
 * for finsentry. Polarity is carried by the words Chinese financial text uses for it (暴跌, 跌停, 亏损,
 * 立案调查 / 大涨, 涨停, 同比大增, 超预期), so that a model trained on Chinese financial sentiment
 * reads each template with its intended label; test/integration/scenarios.test.ts checks that against
 * the multilingual model when it is present.
 *
 * Slots: {name} {short} (both the company name: one ORG per issuer), {nick} (chat nickname, 茅台),
 * {cashtag} {cashtag2} (how chat writes a code: $600519, $贵州茅台(SH600519)$, 600519.SH, SH600519),
 * {pct} {amount} {amount2} {n} {date} {quarter} {broker} {person} {city} {exchange} {year} {price}
 * {url} {client} {time}.
 */
export const ZH_HEADLINES: TemplateSet = {
  negative: [
    '{name}股价暴跌{pct}%，市值蒸发逾{amount}亿元',
    '{name}业绩不及预期，股价大幅下挫{pct}%',
    '{name}净利润同比下滑{pct}%，股价跌停',
    '{name}遭监管部门立案调查，股价重挫',
    '{name}下调全年业绩指引，股价大跌{pct}%',
    '{name}遭{broker}下调评级至卖出，股价下跌{pct}%',
    '{name}{quarter}亏损{amount}亿元，同比由盈转亏',
    '{name}营收同比下降{pct}%，盈利能力明显减弱',
    '{name}因信息披露违规被罚款{amount}亿元，股价应声下跌',
    '{name}大股东大幅减持，股价连续下跌',
  ],
  neutral: [
    '{name}将于{date}召开年度股东大会',
    '{name}将于{date}披露{quarter}报告',
    '{name}聘任{person}为公司财务总监',
    '{name}发布{year}年年度报告',
    '{name}董事会将于{date}召开会议',
    '{name}公告：{person}出任董事会秘书',
    '{name}将于{date}在{city}举办投资者交流会',
    '{name}公布股东大会股权登记日',
  ],
  positive: [
    '{name}净利润同比大增{pct}%，创历史新高',
    '{name}股价大涨{pct}%，市值突破{amount}亿元',
    '{name}业绩超预期，上调全年盈利预测',
    '{name}获{broker}上调评级至买入，目标价上调',
    '{name}营收同比增长{pct}%，盈利能力显著提升',
    '{name}中标{amount}亿元大单，股价涨停',
    '{name}宣布大幅提高分红，股价走强',
    '{name}订单同比大增{pct}%，股价创新高',
  ],
};

export const ZH_BODY_SENTENCES: TemplateSet = {
  negative: [
    '公司营业收入同比下降{pct}%至{amount}亿元。',
    '报告期内公司净亏损{amount}亿元，上年同期为盈利{amount2}亿元。',
    '公司表示，需求疲软严重拖累了本季度业绩。',
    '{broker}分析师将该股目标价下调至{price}元。',
    '{short}预计全年营收将出现下滑。',
    '截至午间收盘，{short}股价下跌{pct}%。',
    '公司计划裁员{n}00人以压缩成本。',
    '受原材料成本上涨影响，公司毛利率大幅下滑。',
    '公司净利润同比大幅下降{pct}%，远低于市场预期。',
    '公司下调了全年业绩预期，称订单持续减少。',
  ],
  neutral: [
    '{short}总部位于{city}。',
    '公司业务覆盖{n}个国家和地区。',
    '公司将于{date}发布定期报告。',
    '年度股东大会将于{date}在{city}召开。',
    '公司股票在{exchange}上市交易。',
    '公司将于{time}召开投资者电话会议。',
    '该交易尚需获得相关监管部门批准。',
    '协议的具体条款未予披露。',
    '{person}将于{date}正式履职。',
    '董事会将向股东大会提交相关议案。',
  ],
  positive: [
    '公司营业收入同比增长{pct}%至{amount}亿元。',
    '报告期内公司净利润增至{amount}亿元，上年同期为{amount2}亿元。',
    '公司新签订单同比增长{pct}%。',
    '{short}因需求强劲上调了全年业绩预期。',
    '截至早盘收盘，{short}股价上涨{pct}%。',
    '{broker}分析师将该股目标价上调至{price}元。',
    '公司各区域销售均实现创纪录增长。',
    '受益于销量提升，公司毛利率明显改善。',
    '公司表示市场需求依然旺盛，在手订单持续增加。',
    '董事会提议提高每股分红，高于上年水平。',
  ],
};

export const ZH_CHAT_TEMPLATES: TemplateSet = {
  negative: [
    '{cashtag} 又跌停了，割肉了😭',
    '{nick}今天又大跌{pct}%，亏麻了',
    '{cashtag} 这业绩太烂了，赶紧跑吧',
    '被{nick}套牢了，心态崩了😭😭',
    '{cashtag} 破位下跌，还要跌，快逃',
    '{cashtag} 暴雷了，业绩大幅下滑，清仓了',
    '{nick}利空不断，跌了{pct}%，韭菜哭晕',
    '{cashtag} 被立案调查了，完了完了',
  ],
  neutral: [
    '{cashtag} 什么时候出年报？',
    '{nick}{date}开股东大会，有人去吗',
    '{cashtag} 今天成交量多少？',
    '关注一下{cashtag}和{cashtag2}',
    '{cashtag} 股权登记日是{date}吗',
    '{nick}的电话会议几点开始？{url}',
  ],
  positive: [
    '{cashtag} 涨停了！🚀🚀 满仓干',
    '{nick}业绩大超预期，加仓了💪',
    '{cashtag} 今天大涨{pct}%，赚麻了😄',
    '{cashtag} 突破新高，继续持有',
    '{nick}利好不断，坚定看多！',
    '{cashtag} 净利润大增{pct}%，太强了 {url}',
  ],
};

export const ZH_QUARTERS = ['一季度', '二季度', '三季度', '四季度'] as const;
