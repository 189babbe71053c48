/**
 * Which language a document is in, so that it is only scored by models that can read it
 * (design §3). The producer's `language` field is a claim; it is kept when it is a well-formed tag
 * and neither the script of the text nor a reliable detection contradicts it. Detection uses ELD
 * (Efficient Language Detector, n-gram based, 60 languages), which handled short chat lines with
 * cashtags and mixed scripts where trigram detectors did not (docs/inference.md, "Languages").
 */

export type LanguageSource = 'producer' | 'detected' | 'undetermined';

export interface ResolvedLanguage {
  /** ISO 639-1/-3 primary language subtag, lower case ("en", "zh"), or "und" when undetermined. */
  language: string;
  source: LanguageSource;
}

/** `producer`: trust a well-formed tag unless the script contradicts it; `verify`: also let a reliable detection override it. */
export type LanguagePolicy = 'producer' | 'verify';

export interface LanguageDetection {
  /** ISO 639-1 code, "" when the detector has no answer. */
  language: string;
  /** Whether the detector considers its answer reliable. */
  reliable: boolean;
  /** Score of any language relative to the detected one's (1 for the detected one, 0 when not scored). */
  relativeScore(language: string): number;
}

export interface LanguageDetector {
  detect(text: string): LanguageDetection;
}

/**
 * Under `verify`, a detection overrides the producer's tag only when the tag's language scores well
 * below the detected one. Short English lines naming German or Dutch companies ("Feldmark
 * Versicherung AG beat estimates") score de/nl a hair above en (0.97–0.99 relative), while German or
 * French sentences tagged `en` score en at 0.3–0.8: 0.85 keeps the first and corrects the second.
 */
const OVERRIDE_BELOW_RELATIVE_SCORE = 0.85;

const UNDETERMINED = 'und';
const TAG = /^([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]{1,8})*$/;
/** Tags that say "no particular language" (ISO 639-2 special codes). */
const NO_LANGUAGE = new Set(['und', 'mul', 'zxx', 'mis']);
/** Languages whose text is mostly written in Han, Kana or Hangul. */
const CJK_LANGUAGES = new Set(['zh', 'ja', 'ko', 'yue', 'wuu', 'cmn']);
const CJK_LETTER = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/gu;
const LETTER = /\p{L}/gu;

/** The primary subtag of a BCP-47 tag, lower case, or undefined when the tag is not well-formed. */
export function primaryLanguage(tag: string): string | undefined {
  const match = TAG.exec(tag.trim());
  if (!match) return undefined;
  const primary = match[1]!.toLowerCase();
  return NO_LANGUAGE.has(primary) ? undefined : primary;
}

/** Share of the text's letters written in Han, Kana or Hangul (0 when it has no letters). */
export function cjkLetterShare(text: string): number {
  const letters = text.match(LETTER)?.length ?? 0;
  if (letters === 0) return 0;
  return (text.match(CJK_LETTER)?.length ?? 0) / letters;
}

/**
 * URLs, e-mail addresses, cashtags and exchange codes are written in Latin letters whatever the
 * language: "$000858 净利润大增10.7%，太强了 https://…/z/b1fd9908" is Chinese, but its URL alone made it
 * 76% Latin letters and ELD read it as English (docs/scenarios.md: 14 of 2,176 Chinese chat lines of
 * the zh-surge scenario were scored by the English models). They are left out of the evidence.
 */
const NOT_LANGUAGE =
  /https?:\/\/\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.]+|\$[^\s$]{1,32}\$?|\b(?:SH|SZ|BJ|HK)\d{5,6}\b|\b\d{4,6}\.(?:SH|SS|SZ|BJ|HK)\b/giu;

/** The part of a text that says which language it is in (the text itself when nothing else is left). */
export function languageEvidence(text: string): string {
  const evidence = text.replace(NOT_LANGUAGE, ' ');
  return /\p{L}/u.test(evidence) ? evidence : text;
}

/** True when the text's script makes the claimed language impossible (CJK text claimed as English…). */
function scriptContradicts(language: string, text: string): boolean {
  const share = cjkLetterShare(text);
  return CJK_LANGUAGES.has(language) ? share < 0.2 && /\p{L}{3}/u.test(text) : share >= 0.3;
}

export class LanguageResolver {
  constructor(
    private readonly detector: LanguageDetector,
    private readonly policy: LanguagePolicy = 'verify',
  ) {}

  resolve(claimed: string, fullText: string): ResolvedLanguage {
    const tag = primaryLanguage(claimed);
    const text = languageEvidence(fullText);
    if (tag !== undefined && !scriptContradicts(tag, text)) {
      if (this.policy === 'producer') return { language: tag, source: 'producer' };
      const detected = this.detector.detect(text);
      if (
        !detected.reliable ||
        detected.language === '' ||
        sameLanguage(detected.language, tag) ||
        detected.relativeScore(tag) >= OVERRIDE_BELOW_RELATIVE_SCORE
      )
        return { language: tag, source: 'producer' };
      return { language: detected.language, source: 'detected' };
    }
    const detected = this.detector.detect(text);
    if (detected.language !== '') return { language: detected.language, source: 'detected' };
    return hanOnly(text)
      ? { language: 'zh', source: 'detected' }
      : { language: UNDETERMINED, source: 'undetermined' };
  }
}

const HAN_LETTER = /\p{Script=Han}/gu;
const KANA_OR_HANGUL = /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

/**
 * Chinese by its script when the detector has no answer: ELD gives none for 股吧 lines as short as
 * "又跌停了，割肉了😭" once their codes are left out. Mostly Han letters and no Kana or Hangul (which
 * Japanese and Korean write with) is Chinese.
 */
function hanOnly(text: string): boolean {
  const letters = text.match(LETTER)?.length ?? 0;
  return letters > 0 && (text.match(HAN_LETTER)?.length ?? 0) / letters >= 0.5 && !KANA_OR_HANGUL.test(text);
}

/** Chinese varieties count as Chinese for model routing ("cmn", "yue" → "zh" sets are configured apart). */
function sameLanguage(a: string, b: string): boolean {
  return a === b || (a === 'zh' && b === 'cmn') || (a === 'cmn' && b === 'zh');
}

let eldDetector: LanguageDetector | undefined;

/** Loads ELD once; resolves to a detector whose `detect` is synchronous. */
export async function loadEldDetector(): Promise<LanguageDetector> {
  if (eldDetector) return eldDetector;
  const { eld } = (await import('eld/small')) as {
    eld: {
      detect(text: string): { language: string; isReliable(): boolean; getScores(): Record<string, number> };
    };
  };
  eldDetector = {
    detect(text) {
      const result = eld.detect(text);
      const language = result.language;
      return {
        language,
        reliable: language !== '' && result.isReliable(),
        relativeScore(other) {
          const scores = result.getScores();
          const top = scores[language] ?? 0;
          return top > 0 ? (scores[other] ?? 0) / top : 0;
        },
      };
    },
  };
  return eldDetector;
}
