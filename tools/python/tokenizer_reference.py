"""Reference tokenizations from the Python Hugging Face `tokenizers` package.

Writes ids, offsets (code points, as Python reports them), special-token masks and word ids of a
fixed set of >= 200 varied texts for one tokenizer.json, as the oracle for the Node tokenizer
parity test (test/unit/inference/tokenize.test.ts).

usage: python tools/python/tokenizer_reference.py TOKENIZER_JSON OUT_JSON
"""
import hashlib
import itertools
import json
import random
import sys

import tokenizers
from tokenizers import Tokenizer


def texts() -> list[str]:
    base = [
        "",
        " ",
        "   \t\n  ",
        ".",
        "a",
        "Apple Inc. shares rose 5% after the earnings beat.",
        "$AAPL $TSLA and $BRK.B rallied; $GME -12.5% pre-market",
        "Goldman Sachs cut its target on JPMorgan Chase & Co. to $210 from $225.",
        "Visit https://www.example.com/markets?ticker=MSFT&range=1y#chart for details",
        "Email ir@company.co.uk or call +44 (0)20 7946 0958",
        "Café Müller, Zürich — Société Générale's résumé naïve coöperate",
        "Ångström ÉCOLE façade Øresund Łódź Dvořák İstanbul",
        "Stocks 📈 to the moon 🚀🚀🚀 #WSB 💎🙌",
        "👨‍👩‍👧‍👦 family emoji and flags 🇺🇸🇬🇧🇯🇵 with skin tones 👍🏽",
        "日本銀行は金利を据え置いた。トヨタ自動車の株価が上昇",
        "中国人民银行宣布降准0.5个百分点",
        "삼성전자 주가가 3% 상승했다",
        "البنك المركزي يرفع أسعار الفائدة",
        "בנק ישראל העלה את הריבית",
        "Рубль укрепился к доллару; Сбербанк отчитался о прибыли",
        "Ελληνικά ομόλογα και η ΕΚΤ",
        "हिंदी में वित्तीय समाचार: सेंसेक्स 500 अंक ऊपर",
        "Tab\tseparated\tvalues and\r\nwindows newlines",
        "Zero\u200bwidth\u200bspace and soft\u00adhyphen and NBSP\u00a0here",
        "Combining accents: e\u0301 a\u0300 o\u0308 (decomposed)",
        "Fullwidth ＡＢＣ１２３ and ligature ﬁnance",
        "Math: 𝔸𝕓𝕔 𝐁𝐨𝐥𝐝 and astral 𠀀𠀁 characters",
        "Control chars \u0001\u0002 and \u007f delete",
        "EUR/USD 1.0845 ↑0.3%; USD/JPY ¥151.20; BTC ₿ 67,000",
        "Q3 EPS of $1.46 vs. est. $1.39; rev. $89.5B (+6% YoY)",
        "CEO Tim Cook said: \"We're thrilled.\" — Reuters",
        "ALL CAPS HEADLINE: MARKETS CRASH AS FED HIKES",
        "mixedCase camelCase snake_case kebab-case",
        "don't won't shouldn't y'all it's",
        "1,000,000 1.000.000,00 1e-9 3.14159 -42 +7 50bp 0.25pp",
        "2024-03-15T14:30:00Z and 15/03/2024 and March 15th, 2024",
        "...!!!???;;;:::",
        "(parentheses) [brackets] {braces} <angles> «guillemets» „quotes“",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "a" * 150,
        "word " * 40,
    ]
    rng = random.Random(20241122)
    words = (
        "the market bank shares rose fell profit loss earnings guidance inflation rate Fed ECB BoJ "
        "Apple Microsoft Tesla Nvidia Amazon Siemens Nestlé Toyota Samsung HSBC Barclays UBS "
        "bullish bearish upgrade downgrade outlook risk default merger acquisition IPO dividend "
        "London Frankfurt Tokyo Zürich São Paulo México Montréal Reykjavík "
        "🚀 📉 💰 $SPY $QQQ #earnings @elonmusk https://t.co/xyz 10% €5bn ¥300 £2.5m "
        "株価 银行 경제 اقتصاد כלכלה экономика"
    ).split()
    generated = []
    for n in itertools.islice(itertools.count(), 160):
        k = rng.randint(1, 40)
        sep = rng.choice([" ", " ", " ", ", ", ". ", "  ", "\n", "-", "/"])
        generated.append(sep.join(rng.choice(words) for _ in range(k)))
    long_texts = []
    for n in range(6):
        k = 300 + 150 * n
        long_texts.append(" ".join(rng.choice(words) for _ in range(k)))
    return base + generated + long_texts


def main() -> None:
    tokenizer_path, out_path = sys.argv[1], sys.argv[2]
    with open(tokenizer_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    tok = Tokenizer.from_file(tokenizer_path)
    tok.no_truncation()
    tok.no_padding()
    cases = []
    for text in texts():
        enc = tok.encode(text)
        cases.append(
            {
                "text": text,
                "ids": enc.ids,
                "offsets": [list(o) for o in enc.offsets],
                "special_tokens_mask": enc.special_tokens_mask,
                "word_ids": enc.word_ids,
            }
        )
    out = {
        "generator": "tools/python/tokenizer_reference.py",
        "tokenizers_version": tokenizers.__version__,
        "tokenizer_sha256": sha,
        "cases": cases,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
