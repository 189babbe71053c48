/**
 * ISO 4217 alphabetic currency codes (active codes, plus the precious metals and a few common
 * unofficial ones such as CNH), lower-case as sanitised group values are. The NER model tags a
 * currency written as a code ("JPY 4.1 billion") as ORG now and then; an `entities.ORG` dimension
 * (issuers) drops these values by default, since a currency is never an issuer and such stray groups
 * would be judged by the issuer rules (`excludeCurrencyCodes: false` keeps them).
 */
export const CURRENCY_CODES: ReadonlySet<string> = new Set(
  (
    'aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob bov brl bsd btn bwp ' +
    'byn bzd cad cdf che chf chw clf clp cnh cny cop cou crc cuc cup cve czk djf dkk dop dzd egp ern ' +
    'etb eur fjd fkp gbp gel ghs gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr iqd irr isk jmd jod ' +
    'jpy kes kgs khr kmf kpw krw kwd kyd kzt lak lbp lkr lrd lsl lyd mad mdl mga mkd mmk mnt mop mru ' +
    'mur mvr mwk mxn mxv myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd ' +
    'rub rwf sar sbd scr sdg sek sgd shp sle sll sos srd ssp stn svc syp szl thb tjs tmt tnd top try ' +
    'ttd twd tzs uah ugx usd usn uyi uyu uyw uzs ved ves vnd vuv wst xaf xag xau xcd xdr xof xpd xpf ' +
    'xpt yer zar zmw zwg zwl'
  ).split(' '),
);
