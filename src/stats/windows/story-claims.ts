import { createHash } from 'node:crypto';
import type { StatsApplyResult, StatsBatch } from '../../domain/windows.js';

/**
 * Story dedup in the window stores (docs/alerting.md "Surge"): a story counts once per group of the
 * dedup dimensions within `windowMs` of event time. Before a batch is applied, each (dimension,
 * group, story) of its observations is claimed; the first record to claim it is counted in that
 * group, later copies are not (they still count in every other dimension). Shared by the Redis store
 * (a Lua script per (dimension, group): one hash tag, one slot, Redis Cluster safe) and the in-memory
 * store, which apply the same rules:
 *
 * - the claim holds the claiming record (input partition and offset) and its event time; the same
 *   record claims again (a replayed or retried batch stays idempotent), another record is a copy
 *   while its event time is less than `windowMs` after the claim's (as src/stats/story.ts StoryDedup);
 * - a claim lives `windowMs + allowedLateness` of store time (TTL), which bounds the seen-set;
 * - a record the store then refuses (late or future) gives its claims back, so a late first copy does
 *   not hide the on-time ones.
 *
 * Claims are kept per (dimension, group) rather than per input partition so that copies on different
 * partitions (news is keyed by document id) are counted once; the claim and the count are two atomic
 * steps, and the replay rule above is what keeps them effectively-once together.
 */

export interface StoryDedupOptions {
  windowMs: number;
  /** Dimensions a story is counted once per group of (stats.stories.dedupDimensions). */
  dimensions: readonly string[];
}

export interface StoryClaim {
  /** Hash tag of the claim: one (dimension, group). */
  tag: string;
  /** The claim's key below the store's prefix: tag and a digest of the story id. */
  key: string;
  /** The claiming record: partition and offset (document id when the observation has no offset). */
  claimant: string;
  eventTimeMs: number;
  batch: number;
  observation: number;
  dimension: string;
  group: string;
}

/** The claims a set of batches makes, in batch and observation order. */
export function storyClaims(batches: readonly StatsBatch[], dedup: StoryDedupOptions): StoryClaim[] {
  const dimensions = new Set(dedup.dimensions);
  const claims: StoryClaim[] = [];
  batches.forEach((batch, b) =>
    batch.observations.forEach((o, i) => {
      if (o.storyId === undefined || !Number.isFinite(o.eventTimeMs)) return;
      const story = createHash('sha1').update(o.storyId).digest('hex').slice(0, 24);
      const claimant = `${batch.partitionKey}@${o.offset ?? `#${o.documentId}`}`;
      for (const g of o.groups) {
        if (!dimensions.has(g.dimension)) continue;
        const tag = `${g.dimension}|${g.value}`;
        claims.push({
          tag,
          key: `story:{${tag}}:${story}`,
          claimant,
          eventTimeMs: Math.floor(o.eventTimeMs),
          batch: b,
          observation: i,
          dimension: g.dimension,
          group: g.value,
        });
      }
    }),
  );
  return claims;
}

/** The stored form of a claim: "<event time> <claimant>". */
export function claimValue(claim: StoryClaim): string {
  return `${claim.eventTimeMs} ${claim.claimant}`;
}

/** Whether a claim is granted over the stored one (null: none), as the Redis script decides. */
export function grantsClaim(stored: string | null, claim: StoryClaim, windowMs: number): boolean {
  if (stored === null) return true;
  const sep = stored.indexOf(' ');
  if (stored.slice(sep + 1) === claim.claimant) return true;
  return claim.eventTimeMs - Number(stored.slice(0, sep)) >= windowMs;
}

/** Claims of one tag together (one script call each), in order. */
export function claimsByTag(claims: readonly StoryClaim[]): StoryClaim[][] {
  const byTag = new Map<string, StoryClaim[]>();
  for (const c of claims) {
    const list = byTag.get(c.tag);
    if (list) list.push(c);
    else byTag.set(c.tag, [c]);
  }
  return [...byTag.values()];
}

/**
 * The batches as the store counts them: each observation without the groups whose claim was denied
 * (a copy of a story already counted there). Observations and their order are kept, so item indices
 * (refused records) stay those of the original batches. Also the number of denied (observation, group) pairs.
 */
export function withoutCopies(
  batches: readonly StatsBatch[],
  claims: readonly StoryClaim[],
  granted: readonly boolean[],
): { batches: StatsBatch[]; copies: number[] } {
  const denied = new Map<string, Set<string>>();
  const copies = batches.map(() => 0);
  claims.forEach((c, i) => {
    if (granted[i]) return;
    const at = `${c.batch}:${c.observation}`;
    let set = denied.get(at);
    if (!set) denied.set(at, (set = new Set()));
    set.add(c.tag);
    copies[c.batch]! += 1;
  });
  if (denied.size === 0) return { batches: [...batches], copies };
  const out = batches.map((batch, b) => ({
    ...batch,
    observations: batch.observations.map((o, i) => {
      const tags = denied.get(`${b}:${i}`);
      return tags ? { ...o, groups: o.groups.filter((g) => !tags.has(`${g.dimension}|${g.value}`)) } : o;
    }),
  }));
  return { batches: out, copies };
}

/**
 * Granted claims of records the store then refused (late or future, by item index per batch): given
 * back so that another copy of the story can be counted.
 */
export function claimsToRelease(
  claims: readonly StoryClaim[],
  granted: readonly boolean[],
  refusedItems: ReadonlyArray<ReadonlySet<number>>,
): StoryClaim[] {
  return claims.filter((c, i) => granted[i] && refusedItems[c.batch]?.has(c.observation));
}

/** Item indices of the refused records in a store's flat (index, verdict) list. */
export function refusedIndices(flat: ReadonlyArray<number | string> | undefined): Set<number> {
  const out = new Set<number>();
  for (let j = 0; flat && j + 1 < flat.length; j += 2) out.add(Number(flat[j]));
  return out;
}

/** A store's apply result with the story copies it skipped (absent when none, or when a replay applied nothing). */
export function withStoryCopies(result: StatsApplyResult, copies: number): StatsApplyResult {
  return result.applied && copies > 0 ? { ...result, storyCopies: copies } : result;
}
