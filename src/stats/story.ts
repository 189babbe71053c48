import { createHash } from 'node:crypto';
import type { StoryFingerprint } from '../domain/observation.js';

/**
 * Stories, not documents (docs/alerting.md "Surge"): one story is republished by several outlets
 * within minutes, verbatim or lightly rewritten, with the same tone. Counted per document it looks
 * like a surge of independent evidence; counted once it is one observation. This module assigns a
 * story id to each document and remembers, per group, which stories were already counted.
 *
 * Near-duplicates: exact match on the normalised text (case, punctuation, whitespace, digits folded),
 * else a 64-bit SimHash (Charikar 2002) of the 3-word shingles within `maxHammingDistance` bits of a
 * story seen in the last `windowMs` (event time). Candidates come from 8 bands of 8 bits: two hashes
 * within 7 bits agree on at least one band (pigeonhole), so the band index finds every match within
 * the threshold. Texts shorter than `minTokensForNearMatch` words only match exactly: short chat
 * lines from one template are alike without being the same story.
 */

export interface StoryOptions {
  /** How long a story stays matchable after its first document (event time). */
  windowMs: number;
  /** SimHash bits that may differ for a near-duplicate (≤ 7: see the banding above). */
  maxHammingDistance: number;
  minTokensForNearMatch: number;
  /** Bound on remembered stories (oldest evicted first). */
  maxStories: number;
  /** Words per SimHash shingle. */
  shingle: number;
}

export const DEFAULT_STORY_OPTIONS: StoryOptions = {
  windowMs: 1_800_000,
  maxHammingDistance: 7,
  minTokensForNearMatch: 25,
  maxStories: 200_000,
  shingle: 3,
};

/** Lower-case, punctuation dropped, whitespace collapsed (NFKC first); figures kept: they tell stories apart. */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export function textDigest(normalized: string): string {
  return createHash('sha256').update(normalized).digest('hex').slice(0, 32);
}

/** FNV-1a 64-bit of a token, as two 32-bit halves. */
function fnv64(token: string): [number, number] {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (let i = 0; i < token.length; i++) {
    lo = (lo ^ token.charCodeAt(i)) >>> 0;
    // (hi·2^32 + lo) · (2^40 + 0x1b3) mod 2^64: lo·2^40 adds lo << 8 to the high half.
    const loMul = lo * 0x1b3;
    const carry = Math.floor(loMul / 0x100000000);
    hi = (hi * 0x1b3 + (lo << 8) + carry) >>> 0;
    lo = loMul >>> 0;
  }
  return [hi >>> 0, lo >>> 0];
}

/**
 * 64-bit SimHash of the `shingle`-word shingles of a normalised text, weighted by frequency; as
 * [hi, lo]. Shingles rather than single words: texts about one issuer share most of their words
 * without being one story; runs of three words (with their figures) tell them apart.
 */
export function simHash(normalized: string, shingle = 3): [number, number] {
  const weights = new Float64Array(64);
  const counts = new Map<string, number>();
  const words = normalized.split(' ').filter(Boolean);
  for (let i = 0; i + shingle <= Math.max(words.length, shingle); i++) {
    const w = words.slice(i, i + shingle).join(' ');
    if (w) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  for (const [word, n] of counts) {
    const [hi, lo] = fnv64(word);
    for (let b = 0; b < 32; b++) {
      weights[b] = weights[b]! + ((hi >>> b) & 1 ? n : -n);
      weights[32 + b] = weights[32 + b]! + ((lo >>> b) & 1 ? n : -n);
    }
  }
  let hi = 0;
  let lo = 0;
  for (let b = 0; b < 32; b++) {
    if (weights[b]! > 0) hi |= 1 << b;
    if (weights[32 + b]! > 0) lo |= 1 << b;
  }
  return [hi >>> 0, lo >>> 0];
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export function hammingDistance(a: readonly [number, number], b: readonly [number, number]): number {
  return popcount32((a[0] ^ b[0]) >>> 0) + popcount32((a[1] ^ b[1]) >>> 0);
}

/** The 8 bands of 8 bits of a hash, as band values in band order (0–3 from hi, 4–7 from lo). */
export function bandValues(h: readonly [number, number]): number[] {
  const hi: number[] = [];
  const lo: number[] = [];
  for (let k = 0; k < 4; k++) {
    hi.push((h[0] >>> (8 * k)) & 0xff);
    lo.push((h[1] >>> (8 * k)) & 0xff);
  }
  return [...hi, ...lo];
}

function bands(h: readonly [number, number]): string[] {
  return bandValues(h).map((value, band) => `${band}:${value}`);
}

/** A text's fingerprint: digest of the normalised text, and its SimHash when it is long enough to match near. */
export function storyFingerprint(
  text: string,
  o: Pick<StoryOptions, 'minTokensForNearMatch' | 'shingle'> = DEFAULT_STORY_OPTIONS,
): StoryFingerprint {
  const normalized = normalizeText(text);
  const tokens = normalized.length === 0 ? 0 : normalized.split(' ').length;
  return {
    digest: textDigest(normalized),
    simHash: tokens >= o.minTokensForNearMatch ? simHash(normalized, o.shingle) : null,
  };
}

interface StoryEntry {
  id: string;
  firstSeenMs: number;
  hash: [number, number] | null;
  digest: string;
}

/**
 * Assigns story ids. A story's id is the id of its first document (so a consumer of the enriched
 * topic can fetch the original). Bounded memory: entries older than windowMs before the newest
 * event time seen, and the oldest beyond maxStories, are forgotten.
 */
export class StoryIndex {
  private readonly options: StoryOptions;
  private readonly byDigest = new Map<string, StoryEntry>();
  private readonly byBand = new Map<string, Set<StoryEntry>>();
  /** Insertion (≈ event-time) order, for eviction. */
  private readonly order: StoryEntry[] = [];
  private head = 0;
  private newestMs = 0;

  constructor(options: Partial<StoryOptions> = {}) {
    this.options = { ...DEFAULT_STORY_OPTIONS, ...options };
    if (this.options.maxHammingDistance > 7) throw new Error('story maxHammingDistance must be at most 7');
  }

  get size(): number {
    return this.byDigest.size;
  }

  /** The story of a document: an earlier matching story's id, or the document's own id (a new story). */
  assign(documentId: string, text: string, eventTimeMs: number): string {
    return this.assignFingerprint(documentId, storyFingerprint(text, this.options), eventTimeMs);
  }

  /** As assign, from a fingerprint computed once (storyFingerprint with this index's options). */
  assignFingerprint(documentId: string, fingerprint: StoryFingerprint, eventTimeMs: number): string {
    this.newestMs = Math.max(this.newestMs, eventTimeMs);
    this.evict();
    const { digest, simHash: hash } = fingerprint;
    const exact = this.byDigest.get(digest);
    if (exact) return exact.id;
    if (hash) {
      const keys = bands(hash);
      for (const key of keys)
        for (const entry of this.byBand.get(key) ?? [])
          if (entry.hash && hammingDistance(entry.hash, hash) <= this.options.maxHammingDistance)
            return entry.id;
    }
    const entry: StoryEntry = { id: documentId, firstSeenMs: eventTimeMs, hash, digest };
    this.byDigest.set(digest, entry);
    if (hash) for (const key of bands(hash)) this.bandSet(key).add(entry);
    this.order.push(entry);
    return entry.id;
  }

  private bandSet(key: string): Set<StoryEntry> {
    let set = this.byBand.get(key);
    if (!set) this.byBand.set(key, (set = new Set()));
    return set;
  }

  private evict(): void {
    const cutoff = this.newestMs - this.options.windowMs;
    while (
      this.head < this.order.length &&
      (this.order[this.head]!.firstSeenMs < cutoff || this.order.length - this.head > this.options.maxStories)
    ) {
      const e = this.order[this.head++]!;
      this.byDigest.delete(e.digest);
      if (e.hash) for (const key of bands(e.hash)) this.byBand.get(key)?.delete(e);
    }
    if (this.head > 4096 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }
}

/**
 * "Count a story once per group": the first document of a story in a group within `ttlMs` (event
 * time) is admitted, later ones are not. This is the per-process form of the check (the backtest's,
 * and a single replica's); across replicas the same check is a SET NX with that TTL on
 * (dimension, group, story) inside the window store's atomic apply (docs/alerting.md "Surge").
 */
export class StoryDedup {
  private readonly seen = new Map<string, number>();
  private newestMs = 0;
  private lastSweepMs = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 1_000_000,
  ) {}

  admit(dimension: string, group: string, storyId: string, eventTimeMs: number): boolean {
    this.newestMs = Math.max(this.newestMs, eventTimeMs);
    if (this.newestMs - this.lastSweepMs > this.ttlMs / 4 || this.seen.size > this.maxEntries) this.sweep();
    const key = `${dimension}\u0000${group}\u0000${storyId}`;
    const at = this.seen.get(key);
    if (at !== undefined && eventTimeMs - at < this.ttlMs) return false;
    this.seen.set(key, eventTimeMs);
    return true;
  }

  private sweep(): void {
    this.lastSweepMs = this.newestMs;
    const cutoff = this.newestMs - this.ttlMs;
    for (const [key, at] of this.seen) if (at < cutoff) this.seen.delete(key);
    // Still too many (a flood of distinct stories): drop the oldest half; a forgotten story is
    // counted again, which errs towards the per-document count, never towards losing a story.
    if (this.seen.size > this.maxEntries) {
      const keys = [...this.seen.keys()];
      for (const key of keys.slice(0, Math.floor(keys.length / 2))) this.seen.delete(key);
    }
  }
}
